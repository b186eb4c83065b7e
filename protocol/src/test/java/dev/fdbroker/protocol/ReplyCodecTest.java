package dev.fdbroker.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReplyCodecTest {

  static Reply roundTrip(Reply reply) throws Exception {
    byte[] frame = ReplyCodec.encode(reply);
    return ReplyCodec.decode(new Frame(frame, 4, frame.length - 4));
  }

  static String json(Reply reply) {
    byte[] frame = ReplyCodec.encode(reply);
    return new String(frame, 4, frame.length - 4, StandardCharsets.UTF_8);
  }

  @Test
  void writesTheDocumentedShapes() {
    Reply opened = new Reply.Opened(RequestId.ofNumber(1), List.of(
        new FileResult.Granted("/a", 0, 123),
        new FileResult.Refused("/b", ErrorCode.DENIED, "not allowed by policy")));
    assertEquals("{\"id\":1,\"ok\":true,\"files\":[{\"path\":\"/a\",\"ok\":true,\"fd\":0,\"size\":123},"
        + "{\"path\":\"/b\",\"ok\":false,\"error\":\"denied\",\"message\":\"not allowed by policy\"}]}",
        json(opened));
    assertEquals("{\"id\":\"p\",\"ok\":true,\"version\":\"0.1.0\",\"protocol\":1,\"max_paths\":64}",
        json(new Reply.Pong(RequestId.ofString("p"), "0.1.0", 1, 64)));
    assertEquals("{\"id\":null,\"ok\":false,\"error\":\"bad_request\",\"message\":\"m\"}",
        json(new Reply.Failed(RequestId.NONE, ErrorCode.BAD_REQUEST, "m")));
  }

  @Test
  void roundTripsEveryReplyKind() throws Exception {
    Reply opened = new Reply.Opened(RequestId.ofString("x"), List.of(
        new FileResult.Granted("/é", 0, Long.MAX_VALUE),
        new FileResult.Refused("/b\n", ErrorCode.SYMLINK, "m"),
        new FileResult.Granted("/c", 1, 0)));
    assertEquals(opened, roundTrip(opened));
    assertEquals(2, ((Reply.Opened) opened).grantedCount());
    Reply pong = new Reply.Pong(RequestId.ofNumber(5), "1.2.3", 1, 16);
    assertEquals(pong, roundTrip(pong));
    for (ErrorCode code : ErrorCode.values()) {
      Reply failed = new Reply.Failed(RequestId.ofNumber(9), code, "why");
      assertEquals(failed, roundTrip(failed));
    }
  }

  @Test
  void echoesUnpairedSurrogatesAsReplacementCharacters() throws Exception {
    Reply reply = new Reply.Opened(RequestId.NONE, List.of(
        new FileResult.Refused("/a\uD800b", ErrorCode.BAD_REQUEST, "bad")));
    Reply back = roundTrip(reply);
    assertEquals("/a\uFFFDb", ((Reply.Opened) back).files().get(0).path());
  }

  @Test
  void refusesRepliesThatAreNotV1() {
    for (String bad : new String[] {"[]", "{}", "{\"ok\":1}", "{\"ok\":true}", "{\"ok\":false}",
        "{\"ok\":true,\"files\":[{\"path\":\"/a\",\"ok\":true}]}",
        "{\"ok\":true,\"files\":[{\"path\":\"/a\",\"ok\":true,\"fd\":-1,\"size\":0}]}",
        "{\"ok\":true,\"files\":[1]}", "{\"ok\":true"}) {
      byte[] b = bad.getBytes(StandardCharsets.UTF_8);
      assertThrows(MalformedReplyException.class, () -> ReplyCodec.decode(new Frame(b, 0, b.length)), bad);
    }
  }

  @Test
  void toleratesFieldsAndCodesFromNewerBrokers() throws Exception {
    byte[] b = "{\"id\":1,\"ok\":false,\"error\":\"quota\",\"message\":\"m\",\"extra\":{\"a\":[1]}}"
        .getBytes(StandardCharsets.UTF_8);
    Reply r = ReplyCodec.decode(new Frame(b, 0, b.length));
    assertInstanceOf(Reply.Failed.class, r);
    assertEquals(ErrorCode.IO_ERROR, ((Reply.Failed) r).error());
  }
}
