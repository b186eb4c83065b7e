package dev.fdbroker.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A reply encoded in place, into a builder kept and reused from one reply to the next (as the
 * broker's serving threads do), is the very frame {@link ReplyCodec#encode(Reply)} makes, whatever
 * the builder held before: a longer frame, one that made it grow past what it keeps, or none.
 */
class ReplyInPlaceTest {

  @Test
  void aReusedBuilderEncodesEachReplyAsAFreshArray() {
    List<Reply> replies = new ArrayList<>();
    replies.add(new Reply.Opened(RequestId.ofNumber(1), List.of(new FileResult.Granted("/a", 0, 123, 1733230000123456789L, 0644))));
    replies.add(new Reply.Failed(RequestId.ofString("é\"x"), ErrorCode.DENIED, "not allowed by policy"));
    replies.add(new Reply.Pong(RequestId.NONE, "0.1.0", 1, 64));
    replies.add(new Reply.Opened(RequestId.ofNumber(-7), List.of(new FileResult.Refused("/b\u2028\u0001", ErrorCode.BAD_REQUEST, "bad"))));
    List<FileResult> many = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      many.add(new FileResult.Granted("/srv/" + "p".repeat(2000) + i, i, i)); // over 64 KiB in all
    }
    replies.add(new Reply.Opened(RequestId.ofNumber(2), many));
    replies.add(new Reply.Listed(RequestId.ofNumber(3), List.of(new DirEntry("x", FileType.FILE, 1, 2, 0644)), "c1"));
    JsonBytes kept = new JsonBytes();
    for (int round = 0; round < 4; round++) {
      for (Reply reply : replies) {
        ReplyCodec.encode(reply, kept);
        assertArrayEquals(ReplyCodec.encode(reply), Arrays.copyOf(kept.array(), kept.length()), reply.toString());
      }
      Collections.shuffle(replies, new java.util.Random(round));
    }
  }
}
