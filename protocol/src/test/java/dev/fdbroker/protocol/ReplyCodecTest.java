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
    assertEquals("{\"id\":\"p\",\"ok\":true,\"version\":\"0.1.0\",\"protocol\":1,\"max_paths\":64,"
        + "\"ops\":[\"open\",\"stat\",\"list\",\"ping\"]}",
        json(new Reply.Pong(RequestId.ofString("p"), "0.1.0", 1, 64)));
    assertEquals("{\"id\":null,\"ok\":false,\"error\":\"bad_request\",\"message\":\"m\"}",
        json(new Reply.Failed(RequestId.NONE, ErrorCode.BAD_REQUEST, "m")));
    assertEquals("{\"id\":1,\"ok\":true,\"files\":[{\"path\":\"/srv/a/x.png\",\"ok\":true,\"type\":\"file\","
        + "\"size\":4711,\"mtime_ns\":1733230000123456789,\"mode\":420},{\"path\":\"/srv/a\",\"ok\":true,\"type\":\"dir\","
        + "\"mtime_ns\":1733230000000000000,\"mode\":493}]}",
        json(new Reply.Stated(RequestId.ofNumber(1), List.of(
            new FileResult.Found("/srv/a/x.png", FileType.FILE, 4711, 1733230000123456789L, 0644),
            new FileResult.Found("/srv/a", FileType.DIRECTORY, FileResult.UNKNOWN, 1733230000000000000L, 0755)))));
    assertEquals("{\"id\":2,\"ok\":true,\"entries\":[{\"name\":\"x.png\",\"type\":\"file\",\"size\":4711,"
        + "\"mtime_ns\":5,\"mode\":420},{\"name\":\"sub\",\"type\":\"dir\",\"mtime_ns\":6,\"mode\":493}],\"cursor\":\"c1\"}",
        json(new Reply.Listed(RequestId.ofNumber(2), List.of(
            new DirEntry("x.png", FileType.FILE, 4711, 5, 0644),
            new DirEntry("sub", FileType.DIRECTORY, FileResult.UNKNOWN, 6, 0755)), "c1")));
    assertEquals("{\"id\":3,\"ok\":true,\"entries\":[],\"cursor\":null}",
        json(new Reply.Listed(RequestId.ofNumber(3), List.of(), null)));
  }

  @Test
  void decodesStatAndListRepliesByTheOperationAsked() throws Exception {
    Reply stated = new Reply.Stated(RequestId.ofNumber(1), List.of(
        new FileResult.Found("/a", FileType.SYMLINK, FileResult.UNKNOWN, -5, 0777),
        new FileResult.Refused("/b", ErrorCode.DENIED, "no")));
    byte[] frame = ReplyCodec.encode(stated);
    assertEquals(stated, ReplyCodec.decode(new Frame(frame, 4, frame.length - 4), "stat"));
    // All refused: only the operation asked tells a stat reply from an open reply.
    Reply refused = new Reply.Stated(RequestId.ofNumber(1), List.of(new FileResult.Refused("/b", ErrorCode.DENIED, "no")));
    byte[] f2 = ReplyCodec.encode(refused);
    assertEquals(refused, ReplyCodec.decode(new Frame(f2, 4, f2.length - 4), "stat"));
    assertInstanceOf(Reply.Opened.class, ReplyCodec.decode(new Frame(f2, 4, f2.length - 4)));
    Reply listed = new Reply.Listed(RequestId.ofString("l"), List.of(
        new DirEntry("a b", FileType.OTHER, FileResult.UNKNOWN, 0, 0600)), null);
    assertEquals(listed, roundTrip(listed));
    byte[] older = "{\"id\":1,\"ok\":true,\"version\":\"0.1.0\",\"protocol\":1}".getBytes(StandardCharsets.UTF_8);
    assertEquals(List.of("open", "ping"), ((Reply.Pong) ReplyCodec.decode(new Frame(older, 0, older.length))).ops());
    byte[] newType = "{\"ok\":true,\"entries\":[{\"name\":\"d\",\"type\":\"door\"}],\"cursor\":null}"
        .getBytes(StandardCharsets.UTF_8);
    assertEquals(FileType.OTHER, ((Reply.Listed) ReplyCodec.decode(new Frame(newType, 0, newType.length))).entries().get(0).type());
  }

  @Test
  void refusesEntryNamesThatAreNotOneComponent() {
    for (String name : new String[] {"", ".", "..", "a/b", "/", "a\\u0000b"}) {
      byte[] b = ("{\"ok\":true,\"entries\":[{\"name\":\"" + name + "\",\"type\":\"file\"}],\"cursor\":null}")
          .getBytes(StandardCharsets.UTF_8);
      assertThrows(MalformedReplyException.class, () -> ReplyCodec.decode(new Frame(b, 0, b.length)), name);
    }
  }

  @Test
  void countsEachListedEntryToTheByte() {
    Random random = new Random(11);
    FileType[] types = FileType.values();
    for (int i = 0; i < 20_000; i++) {
      List<DirEntry> entries = new ArrayList<>();
      int expected = 0;
      int n = random.nextInt(4);
      for (int k = 0; k < n; k++) {
        DirEntry e = new DirEntry("n" + randomText(random), types[random.nextInt(types.length)],
            random.nextBoolean() ? FileResult.UNKNOWN : random.nextLong() & Long.MAX_VALUE,
            random.nextInt(3) == 0 ? Long.MIN_VALUE + random.nextInt(2) : random.nextLong(),
            random.nextBoolean() ? FileResult.UNKNOWN : random.nextInt(07777 + 1));
        entries.add(e);
        expected += ReplyCodec.listedEntryBytes(e) - (k == 0 ? 1 : 0); // the first has no comma
      }
      RequestId id = randomId(random);
      int empty = ReplyCodec.encode(new Reply.Listed(id, List.of(), "c")).length;
      int full = ReplyCodec.encode(new Reply.Listed(id, entries, "c")).length;
      assertEquals(expected, full - empty);
      String cursor = "\"".repeat(ProtocolLimits.MAX_CURSOR_CHARS);
      assertEquals(ProtocolLimits.MAX_FRAME_BYTES + ProtocolLimits.HEADER_BYTES,
          ReplyCodec.encode(new Reply.Listed(id, List.of(), cursor)).length + ReplyCodec.listingRoom(id),
          "a page filled to its room, with the worst cursor, is exactly one frame");
    }
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
    Reply listed = new Reply.Listed(RequestId.ofNumber(6), List.of(new DirEntry("é", FileType.FILE, 3, 4, 0644),
        new DirEntry("x", FileType.DIRECTORY, FileResult.UNKNOWN, FileResult.UNKNOWN, FileResult.UNKNOWN)), "9:abc");
    assertEquals(listed, roundTrip(listed));
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
      } else if (reply instanceof Reply.Stated stated) {
        g.writeBooleanField("ok", true);
        g.writeArrayFieldStart("files");
        for (FileResult file : stated.files()) {
          g.writeStartObject();
          g.writeStringField("path", JsonText.wellFormed(file.path()));
          if (file instanceof FileResult.Found found) {
            g.writeBooleanField("ok", true);
            g.writeStringField("type", found.type().wireName());
            attributes(g, found.size(), found.mtimeNs(), found.mode());
          } else {
            FileResult.Refused refused = (FileResult.Refused) file;
            g.writeBooleanField("ok", false);
            g.writeStringField("error", refused.error().wireName());
            g.writeStringField("message", JsonText.wellFormed(refused.message()));
          }
          g.writeEndObject();
        }
        g.writeEndArray();
      } else if (reply instanceof Reply.Listed listed) {
        g.writeBooleanField("ok", true);
        g.writeArrayFieldStart("entries");
        for (DirEntry e : listed.entries()) {
          g.writeStartObject();
          g.writeStringField("name", JsonText.wellFormed(e.name()));
          g.writeStringField("type", e.type().wireName());
          attributes(g, e.size(), e.mtimeNs(), e.mode());
          g.writeEndObject();
        }
        g.writeEndArray();
        g.writeStringField("cursor", listed.cursor());
      } else if (reply instanceof Reply.Pong pong) {
        g.writeBooleanField("ok", true);
        g.writeStringField("version", pong.brokerVersion());
        g.writeNumberField("protocol", pong.protocolVersion());
        g.writeNumberField("max_paths", pong.maxPaths());
        g.writeArrayFieldStart("ops");
        for (String op : pong.ops()) {
          g.writeString(op);
        }
        g.writeEndArray();
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

  private static void attributes(JsonGenerator g, long size, long mtimeNs, int mode) throws IOException {
    if (size != FileResult.UNKNOWN) {
      g.writeNumberField("size", size);
    }
    if (mtimeNs != FileResult.UNKNOWN) {
      g.writeNumberField("mtime_ns", mtimeNs);
    }
    if (mode != FileResult.UNKNOWN) {
      g.writeNumberField("mode", mode);
    }
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
      int kind = random.nextInt(6);
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
      } else if (kind == 4) {
        List<FileResult> files = new ArrayList<>();
        FileType[] types = FileType.values();
        for (int f = 0, n = 1 + random.nextInt(5); f < n; f++) {
          files.add(random.nextBoolean()
              ? new FileResult.Found("/" + randomText(random), types[random.nextInt(types.length)],
                  random.nextBoolean() ? FileResult.UNKNOWN : random.nextLong() & Long.MAX_VALUE, random.nextLong(),
                  random.nextInt(07777 + 1))
              : new FileResult.Refused("/" + randomText(random), codes[random.nextInt(codes.length)], randomText(random)));
        }
        reply = new Reply.Stated(randomId(random), files);
      } else if (kind == 5) {
        List<DirEntry> entries = new ArrayList<>();
        FileType[] types = FileType.values();
        for (int f = 0, n = random.nextInt(5); f < n; f++) {
          entries.add(new DirEntry("n" + randomText(random), types[random.nextInt(types.length)],
              random.nextBoolean() ? FileResult.UNKNOWN : random.nextLong() & Long.MAX_VALUE, random.nextLong(),
              random.nextBoolean() ? FileResult.UNKNOWN : random.nextInt(07777 + 1)));
        }
        reply = new Reply.Listed(randomId(random), entries, random.nextBoolean() ? null : "c" + random.nextInt());
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
