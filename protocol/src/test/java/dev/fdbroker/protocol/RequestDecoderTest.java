package dev.fdbroker.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/**
 * {@link RequestDecoder}, one parser kept across frames, must decode every frame exactly as {@link
 * RequestCodec#decode}, a fresh parser per frame, does: the same request, or a refusal with the same
 * id and message; whatever came before it on the same decoder (bad frames, trailing bytes, frames
 * cut short, more bytes in all than one parser may read).
 */
class RequestDecoderTest {

  /** What decoding a frame came to, comparable: the request, or the refusal's id and message. */
  private record Outcome(Request request, RequestId refusedId, String refusal) {}

  private static Outcome fresh(Frame frame, int maxPaths) {
    try {
      return new Outcome(RequestCodec.decode(frame, maxPaths), null, null);
    } catch (BadRequestException e) {
      return new Outcome(null, e.id(), e.getMessage());
    }
  }

  private static Outcome kept(RequestDecoder decoder, Frame frame, int maxPaths) {
    try {
      return new Outcome(decoder.decode(frame, maxPaths), null, null);
    } catch (BadRequestException e) {
      return new Outcome(null, e.id(), e.getMessage());
    }
  }

  /** Decodes {@code frames} in order on one decoder, each compared with a fresh parser's verdict. */
  private static void decodeAllAlike(List<byte[]> frames, int maxPaths) {
    RequestDecoder decoder = new RequestDecoder();
    for (int i = 0; i < frames.size(); i++) {
      byte[] json = frames.get(i);
      // Inside a larger array, as in the connection's buffer: the bytes around it would close an object.
      int offset = i % 4;
      byte[] buffer = new byte[offset + json.length + 2];
      Arrays.fill(buffer, (byte) '}');
      System.arraycopy(json, 0, buffer, offset, json.length);
      Frame frame = new Frame(buffer, offset, json.length);
      assertEquals(fresh(frame, maxPaths), kept(decoder, frame, maxPaths),
          "frame " + i + " of " + frames.size() + ": " + new String(json, StandardCharsets.UTF_8));
    }
  }

  @Property(tries = 1000)
  void decodesEveryFrameAsAFreshParserWould(@ForAll("sessions") List<byte[]> frames, @ForAll("maxPaths") int maxPaths) {
    decodeAllAlike(frames, maxPaths);
  }

  @Provide
  Arbitrary<Integer> maxPaths() {
    return Arbitraries.of(1, 2, 3, ProtocolLimits.MAX_PATHS_PER_REQUEST);
  }

  /** A connection's worth of frames: mostly requests, good or nearly so, some spoilt on purpose. */
  @Provide
  Arbitrary<List<byte[]>> sessions() {
    return Arbitraries.randomValue(RequestDecoderTest::frame).list().ofMinSize(1).ofMaxSize(40);
  }

  @Test
  void keepsDecodingAfterEveryKindOfBadFrame() {
    String good = "{\"id\":1,\"op\":\"open\",\"paths\":[\"/srv/a\"]}";
    List<String> frames = List.of(good, "{\"id\":2,\"op\":\"open\",\"paths\":[\"/srv/a\"", good,
        good + " x", good, good + "{}", good, good + " 5", good, "{\"id\":3,\"op\":\"open\",\"uid\":0}", good,
        "\uFEFF" + good, good, "  \n" + good + " \r\n\t", good, "{\"op\":\"list\",\"path\":\"/a\",\"cursor\":\"a b\"}",
        good, "{\"op\":\"open\",\"paths\":[{\"a\":[1]}],\"id\":4}", good, "[1,2]", good, "5", good, "", good,
        "{\"op\":\"ping\",\"id\":" + "9".repeat(65) + "}", good, "{\"op\":\"ping\",\"op\":\"open\"}", good,
        "{\"op\":\"unlink\",\"paths\":[\"/a\"]}", good, "{\"op\":\"ping\"} t", good, "{\"op\":\"ping\",\"id\":tru", good);
    List<byte[]> bytes = new ArrayList<>();
    for (String f : frames) {
      bytes.add(f.getBytes(StandardCharsets.UTF_8));
    }
    byte[] invalid = good.getBytes(StandardCharsets.UTF_8);
    invalid = Arrays.copyOf(invalid, invalid.length);
    invalid[28] = (byte) 0xc0; // not UTF-8
    bytes.add(invalid);
    bytes.add(good.getBytes(StandardCharsets.UTF_8));
    decodeAllAlike(bytes, 64);
  }

  /** One parser reads at most Jackson's document limit: past it, the decoder starts another. */
  @Test
  void decodesMoreThanOneParserMayRead() throws Exception {
    RequestDecoder decoder = new RequestDecoder();
    byte[] small = RequestCodec.encode(new Request.Open(RequestId.ofNumber(7), List.of("/srv/assets/x.bin")));
    Frame smallFrame = new Frame(small, ProtocolLimits.HEADER_BYTES, small.length - ProtocolLimits.HEADER_BYTES);
    // The largest request a frame can hold, and a few around it.
    List<byte[]> frames = new ArrayList<>();
    for (int size : new int[] {ProtocolLimits.MAX_FRAME_BYTES, ProtocolLimits.MAX_FRAME_BYTES - 1, 40_000}) {
      String head = "{\"op\":\"open\",\"paths\":[\"/";
      String tail = "\"]}";
      frames.add((head + "p".repeat(size - head.length() - tail.length()) + tail).getBytes(StandardCharsets.UTF_8));
    }
    long total = 0;
    for (int i = 0; total < 4L * ProtocolLimits.MAX_FRAME_BYTES; i++) {
      Request r = decoder.decode(smallFrame, 64);
      assertEquals(new Request.Open(RequestId.ofNumber(7), List.of("/srv/assets/x.bin")), r);
      total += smallFrame.length();
      if (i % 500 == 0) {
        for (byte[] big : frames) {
          assertInstanceOf(Request.Open.class, decoder.decode(new Frame(big, 0, big.length), 64));
          assertEquals(fresh(new Frame(big, 0, big.length), 64), kept(decoder, new Frame(big, 0, big.length), 64));
          total += 2L * big.length;
        }
      }
    }
  }

  private static final String[] WHITESPACE = {"", "", "", "", " ", "\n", "\t", "\r\n  "};
  private static final String[] NUMBERS = {"0", "-0", "7", "12345", "1.50e3", "-2.5e-3", "1E+5",
      "123456789012345678901234567890", "1" + "0".repeat(63), "1" + "0".repeat(64), "-" + "1".repeat(64), "01", "1.",
      "-", "+1", ".5", "NaN", "1e"};
  private static final String[] OPS = {"open", "open", "open", "stat", "list", "ping", "unlink", "Open", ""};
  private static final String[] UNKNOWN_FIELDS = {"uid", "ID", "op2", "", "pathsx", "op\u0000"};
  private static final String[] JUNK = {",", ":", "{", "}", "[", "]", "\"", "\\", " ", "\n", "/*c*/", "'a'",
      "\u00e9", "\uFEFF", "nul", "tru", "\\u", "\\ud800", "5", "{}", "x"};
  /** Characters paths are drawn from: plain ones mostly, and every kind JSON escapes or UTF-8 widens. */
  private static final String ALPHABET = "/////abcxyz.-_ \"\\\u0001\n\t\u007f\u00e9\u20ac\u2028\ud83d\ude00\ud800";

  /** One frame's bytes: a request, perhaps spoilt. */
  static byte[] frame(Random r) {
    String json = request(r);
    byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
    if (r.nextInt(3) > 0) {
      return bytes;
    }
    switch (r.nextInt(6)) {
      case 0 -> bytes = Arrays.copyOf(bytes, r.nextInt(bytes.length + 1)); // cut short
      case 1 -> { // junk inserted anywhere
        int at = r.nextInt(json.length() + 1);
        bytes = (json.substring(0, at) + JUNK[r.nextInt(JUNK.length)] + json.substring(at)).getBytes(StandardCharsets.UTF_8);
      }
      case 2 -> { // a byte changed
        if (bytes.length > 0) {
          byte[] choices = {0, (byte) 0x80, (byte) 0xc0, (byte) 0xff, '}', '"', ' ', ',', '\\', 'x'};
          bytes[r.nextInt(bytes.length)] = choices[r.nextInt(choices.length)];
        }
      }
      case 3 -> bytes = (json + JUNK[r.nextInt(JUNK.length)]).getBytes(StandardCharsets.UTF_8); // trailing
      case 4 -> bytes = (new String[] {"\uFEFF", " ", "\n\t", "\u00e9", "x"}[r.nextInt(5)] + json)
          .getBytes(StandardCharsets.UTF_8); // leading
      default -> bytes = (json + json).getBytes(StandardCharsets.UTF_8); // two requests in one frame
    }
    return bytes;
  }

  /** A request's JSON text, fields in any order, sometimes one too many, twice or of the wrong kind. */
  private static String request(Random r) {
    List<String> fields = new ArrayList<>();
    if (r.nextInt(4) > 0) {
      fields.add(field(r, "id", id(r)));
    }
    String op = OPS[r.nextInt(OPS.length)];
    if (r.nextInt(20) > 0) {
      fields.add(field(r, "op", r.nextInt(30) == 0 ? new String[] {"5", "null", "[\"open\"]"}[r.nextInt(3)] : string(r, op)));
    }
    boolean list = op.equals("list") ? r.nextInt(10) > 0 : r.nextInt(10) == 0;
    boolean paths = !op.equals("list") && !op.equals("ping") ? r.nextInt(10) > 0 : r.nextInt(10) == 0;
    if (paths) {
      fields.add(field(r, "paths", paths(r)));
    }
    if (list) {
      fields.add(field(r, "path", r.nextInt(20) == 0 ? "[\"/a\"]" : string(r, path(r))));
      if (r.nextBoolean()) {
        fields.add(field(r, "cursor", cursor(r)));
      }
    }
    if (r.nextInt(15) == 0) {
      fields.add(field(r, UNKNOWN_FIELDS[r.nextInt(UNKNOWN_FIELDS.length)], r.nextBoolean() ? "0" : "{\"a\":[1,{}]}"));
    }
    if (r.nextInt(20) == 0 && !fields.isEmpty()) {
      fields.add(fields.get(r.nextInt(fields.size()))); // a field twice
    }
    java.util.Collections.shuffle(fields, r);
    StringBuilder b = new StringBuilder(ws(r)).append('{');
    for (int i = 0; i < fields.size(); i++) {
      b.append(i > 0 ? "," : "").append(ws(r)).append(fields.get(i)).append(ws(r));
    }
    return b.append('}').append(ws(r)).toString();
  }

  private static String field(Random r, String name, String value) {
    return string(r, name) + ws(r) + ":" + ws(r) + value;
  }

  private static String id(Random r) {
    return switch (r.nextInt(6)) {
      case 0, 1 -> NUMBERS[r.nextInt(NUMBERS.length)];
      case 2 -> string(r, text(r, r.nextInt(10) == 0 ? 300 : 12));
      case 3 -> new String[] {"true", "false", "null"}[r.nextInt(3)];
      case 4 -> Integer.toString(r.nextInt(1_000_000));
      default -> new String[] {"[1]", "{\"a\":1}", "\"\""}[r.nextInt(3)];
    };
  }

  private static String paths(Random r) {
    if (r.nextInt(20) == 0) {
      return new String[] {"\"/a\"", "null", "{}", "5"}[r.nextInt(4)];
    }
    StringBuilder b = new StringBuilder("[");
    int n = r.nextInt(10) == 0 ? r.nextInt(70) : r.nextInt(4);
    for (int i = 0; i < n; i++) {
      b.append(i > 0 ? "," : "").append(ws(r));
      b.append(r.nextInt(30) == 0 ? new String[] {"3", "null", "[\"/a\"]", "{\"x\":1}"}[r.nextInt(4)] : string(r, path(r)));
    }
    return b.append(ws(r)).append(']').toString();
  }

  private static String cursor(Random r) {
    return switch (r.nextInt(5)) {
      case 0 -> "null";
      case 1 -> "5";
      case 2 -> string(r, "a b");
      default -> string(r, "c".repeat(1 + r.nextInt(r.nextInt(8) == 0 ? 140 : 20)));
    };
  }

  private static String path(Random r) {
    return "/" + text(r, r.nextInt(10) == 0 ? 200 : 24);
  }

  private static String text(Random r, int maxLength) {
    int n = r.nextInt(maxLength + 1);
    StringBuilder b = new StringBuilder(n);
    for (int i = 0; i < n; i++) {
      b.append(r.nextInt(4) > 0 ? (char) ('a' + r.nextInt(26)) : ALPHABET.charAt(r.nextInt(ALPHABET.length())));
    }
    return b.toString();
  }

  /** {@code s} as a JSON string: escaped as JSON requires, other characters sometimes as \\u escapes too. */
  private static String string(Random r, String s) {
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20 || Character.isSurrogate(c) && r.nextBoolean() || r.nextInt(40) == 0) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }

  private static String ws(Random r) {
    return WHITESPACE[r.nextInt(WHITESPACE.length)];
  }
}
