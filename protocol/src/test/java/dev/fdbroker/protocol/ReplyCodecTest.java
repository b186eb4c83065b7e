package dev.fdbroker.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
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
    assertEquals("{\"id\":2,\"ok\":true,\"files\":[{\"path\":\"/a\",\"ok\":true,\"fd\":0,\"size\":4711,"
        + "\"mtime_ns\":1733230000123456789,\"mode\":420}]}",
        json(new Reply.Opened(RequestId.ofNumber(2), List.of(new FileResult.Granted("/a", 0, 4711, 1733230000123456789L,
            0644)))));
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
        new FileResult.Granted("/c", 1, 0),
        new FileResult.Granted("/d", 2, 5, 1733230000123456789L, 04755),
        new FileResult.Granted("/e", 3, 5, -1_000_000_001L, 0)));
    assertEquals(opened, roundTrip(opened));
    assertEquals(4, ((Reply.Opened) opened).grantedCount());
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
  void echoesAnIdWithAnUnpairedSurrogateAsAReplacementCharacter() throws Exception {
    Reply back = roundTrip(new Reply.Pong(RequestId.ofString("a\uDC00"), "0.1.0", 1, 64));
    assertEquals(RequestId.ofString("a\uFFFD"), back.id());
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

  /**
   * Jackson's generator, writing characters beyond the BMP as UTF-8 as the encoder does (by
   * default it writes them as two \\u escapes, which means the same).
   */
  private static final JsonFactory GENERATOR = JsonFactory.builder()
      .enable(JsonWriteFeature.COMBINE_UNICODE_SURROGATES_IN_UTF8).build();

  /** The reply as Jackson's generator writes it: the oracle for the encoder's own assembly. */
  private static byte[] jacksonPayload(Reply reply) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (JsonGenerator g = GENERATOR.createGenerator(out)) {
      g.writeStartObject();
      RequestId id = reply.id();
      if (id.kind() == RequestId.Kind.STRING) {
        g.writeStringField("id", JsonText.wellFormed(id.text()));
      } else {
        id.write(g, "id");
      }
      if (reply instanceof Reply.Opened opened) {
        g.writeBooleanField("ok", true);
        g.writeArrayFieldStart("files");
        for (FileResult file : opened.files()) {
          g.writeStartObject();
          g.writeStringField("path", JsonText.wellFormed(file.path()));
          if (file instanceof FileResult.Granted granted) {
            g.writeBooleanField("ok", true);
            g.writeNumberField("fd", granted.fd());
            g.writeNumberField("size", granted.size());
            if (granted.mtimeNs() != FileResult.Granted.UNKNOWN) {
              g.writeNumberField("mtime_ns", granted.mtimeNs());
            }
            if (granted.mode() != FileResult.Granted.UNKNOWN) {
              g.writeNumberField("mode", granted.mode());
            }
          } else {
            FileResult.Refused refused = (FileResult.Refused) file;
            g.writeBooleanField("ok", false);
            g.writeStringField("error", refused.error().wireName());
            g.writeStringField("message", JsonText.wellFormed(refused.message()));
          }
          g.writeEndObject();
        }
        g.writeEndArray();
      } else if (reply instanceof Reply.Pong pong) {
        g.writeBooleanField("ok", true);
        g.writeStringField("version", pong.brokerVersion());
        g.writeNumberField("protocol", pong.protocolVersion());
        g.writeNumberField("max_paths", pong.maxPaths());
      } else {
        Reply.Failed failed = (Reply.Failed) reply;
        g.writeBooleanField("ok", false);
        g.writeStringField("error", failed.error().wireName());
        g.writeStringField("message", JsonText.wellFormed(failed.message()));
      }
      g.writeEndObject();
    }
    return out.toByteArray();
  }

  private static String randomText(Random random) {
    String alphabet = "\"\\/\n\r\t\b\f\u0000\u0001\u001f\u007f aZ09\u00e9\u20ac\u2028\ud83d\ude00";
    StringBuilder b = new StringBuilder();
    int length = random.nextInt(30);
    for (int j = 0; j < length; j++) {
      b.append(random.nextInt(4) == 0 ? (char) random.nextInt(0x10000) : alphabet.charAt(random.nextInt(alphabet.length())));
    }
    return b.toString();
  }

  private static RequestId randomId(Random random) {
    return switch (random.nextInt(5)) {
      case 0 -> RequestId.ofString(randomText(random));
      case 1 -> RequestId.ofNumber(random.nextLong());
      case 2 -> RequestId.ofParsedNumber("-1.5e300");
      case 3 -> RequestId.ofBoolean(random.nextBoolean());
      default -> RequestId.NONE;
    };
  }

  @Test
  void encodesEveryReplyExactlyAsJacksonsGeneratorDoes() throws Exception {
    Random random = new Random(7);
    ErrorCode[] codes = ErrorCode.values();
    for (int i = 0; i < 20_000; i++) {
      Reply reply;
      int kind = random.nextInt(4);
      if (kind < 2) {
        List<FileResult> files = new ArrayList<>();
        int n = 1 + random.nextInt(5);
        for (int f = 0; f < n; f++) {
          files.add(random.nextBoolean()
              ? random.nextBoolean()
                  ? new FileResult.Granted("/" + randomText(random), random.nextInt(64), random.nextLong() & Long.MAX_VALUE)
                  : new FileResult.Granted("/" + randomText(random), random.nextInt(64), random.nextLong() & Long.MAX_VALUE,
                      random.nextLong(), random.nextInt(07777 + 1))
              : new FileResult.Refused("/" + randomText(random), codes[random.nextInt(codes.length)], randomText(random)));
        }
        reply = new Reply.Opened(randomId(random), files);
      } else if (kind == 2) {
        reply = new Reply.Pong(randomId(random), "0.1.0", 1, 1 + random.nextInt(64));
      } else {
        reply = new Reply.Failed(randomId(random), codes[random.nextInt(codes.length)], randomText(random));
      }
      byte[] frame = ReplyCodec.encode(reply);
      byte[] expected = jacksonPayload(reply);
      byte[] payload = Arrays.copyOfRange(frame, ProtocolLimits.HEADER_BYTES, frame.length);
      assertEquals(new String(expected, StandardCharsets.UTF_8), new String(payload, StandardCharsets.UTF_8));
      assertEquals(expected.length, ((frame[0] & 0xff) << 24) | ((frame[1] & 0xff) << 16) | ((frame[2] & 0xff) << 8)
          | (frame[3] & 0xff), "the header gives the payload's length");
    }
  }
}
