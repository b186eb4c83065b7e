package dev.fdbroker.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.regex.Pattern;

/**
 * Fuzzes {@link RequestCodec#decode}, the first code to see a hostile worker's bytes. The input is
 * either taken as raw frame bytes, or used to build a JSON-ish request (right field names, scalars,
 * arrays, escapes, odd numbers, a little junk) so that the fuzzer spends its time near valid
 * requests. Decoding must either throw {@link BadRequestException} or return a request that obeys
 * the protocol (open names 1..maxPaths paths, the id is a bounded scalar) and survives {@link
 * RequestCodec#encode} and a second decode unchanged. Any other exception is a finding.
 *
 * <p>Runs as a real fuzzer in the build's "fuzz" surefire execution (JAZZER_FUZZ=1); elsewhere it
 * replays the inputs under src/test/resources.
 */
class RequestCodecFuzzTest {

  /** The JSON number grammar (RFC 8259), which is all an id's number text may be. */
  private static final Pattern JSON_NUMBER = Pattern.compile("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?");

  private static final Charset[] OTHER_CHARSETS = {
      StandardCharsets.UTF_16BE, StandardCharsets.UTF_16LE, Charset.forName("UTF-32BE"),
      Charset.forName("UTF-32LE"), StandardCharsets.ISO_8859_1};

  @FuzzTest(maxDuration = "20s")
  void decodesToValidRequestsOrRefuses(FuzzedDataProvider data) {
    int maxPaths = data.consumeBoolean() ? ProtocolLimits.MAX_PATHS_PER_REQUEST : data.consumeInt(1, 4);
    Frame frame;
    if (data.consumeBoolean()) {
      // Raw bytes, placed inside a larger array as in the reader's buffer: the codec must look only
      // at the frame's own bytes (the ones around it would close an object).
      int offset = data.consumeInt(0, 3);
      byte[] raw = data.consumeRemainingAsBytes();
      byte[] buffer = new byte[offset + raw.length + 2];
      Arrays.fill(buffer, (byte) '}');
      System.arraycopy(raw, 0, buffer, offset, raw.length);
      frame = new Frame(buffer, offset, raw.length);
    } else {
      // Mostly UTF-8; sometimes an encoding a hostile client might try instead (with or without a
      // byte order mark), which the protocol does not accept.
      Charset charset = data.consumeInt(0, 7) == 0 ? data.pickValue(OTHER_CHARSETS) : StandardCharsets.UTF_8;
      boolean bom = data.consumeInt(0, 7) == 0;
      String text = new JsonishBuilder(data).request();
      byte[] json = ((bom ? "\uFEFF" : "") + text).getBytes(charset);
      frame = new Frame(json, 0, json.length);
    }
    check(frame, maxPaths);
  }

  private static void check(Frame frame, int maxPaths) {
    Request request;
    try {
      request = RequestCodec.decode(frame, maxPaths);
    } catch (BadRequestException e) {
      assertNotNull(e.id(), "a refusal must carry an id for the error reply");
      assertNotNull(e.getMessage());
      return;
    }
    checkInvariants(request, maxPaths);
    // UTF-8 JSON text never holds a NUL byte (a control character must be escaped in a string and
    // is not whitespace). Accepting one means the frame was read in some other encoding.
    for (int i = frame.offset(); i < frame.offset() + frame.length(); i++) {
      assertTrue(frame.array()[i] != 0, "accepted a frame with a NUL byte at " + (i - frame.offset())
          + " (not UTF-8 JSON): " + request);
    }

    byte[] encoded = RequestCodec.encode(request);
    assertTrue(encoded.length > ProtocolLimits.HEADER_BYTES);
    int length = ((encoded[0] & 0xff) << 24) | ((encoded[1] & 0xff) << 16) | ((encoded[2] & 0xff) << 8)
        | (encoded[3] & 0xff);
    assertEquals(encoded.length - ProtocolLimits.HEADER_BYTES, length, "encoded header length");
    Request again;
    try {
      again = RequestCodec.decode(new Frame(encoded, ProtocolLimits.HEADER_BYTES, length), maxPaths);
    } catch (BadRequestException e) {
      fail("re-encoded request " + request + " is refused: " + e.getMessage() + "; wire: "
          + new String(encoded, ProtocolLimits.HEADER_BYTES, length, StandardCharsets.UTF_8));
      return;
    }
    assertEquals(request, again, "decode(encode(request)) differs");
  }

  private static void checkInvariants(Request request, int maxPaths) {
    assertNotNull(request);
    RequestId id = request.id();
    assertNotNull(id, "request without an id (RequestId.NONE stands for none)");
    assertNotNull(id.kind());
    String text = id.text();
    assertNotNull(text);
    switch (id.kind()) {
      case STRING -> assertTrue(text.length() <= ProtocolLimits.MAX_ID_CHARS, "string id too long");
      case NUMBER -> {
        assertTrue(JSON_NUMBER.matcher(text).matches(), "numeric id is not a JSON number: " + text);
        long digits = text.chars().filter(c -> c >= '0' && c <= '9').count();
        assertTrue(digits <= ProtocolLimits.MAX_NUMBER_CHARS, "numeric id has " + digits + " digits");
      }
      case TRUE -> assertEquals("true", text);
      case FALSE -> assertEquals("false", text);
      case NULL -> assertEquals("null", text);
    }
    if (request instanceof Request.Open) {
      Request.Open open = (Request.Open) request;
      assertNotNull(open.paths());
      assertTrue(!open.paths().isEmpty() && open.paths().size() <= maxPaths,
          "open with " + open.paths().size() + " paths (max " + maxPaths + ")");
      for (String path : open.paths()) {
        assertNotNull(path);
      }
    } else {
      assertTrue(request instanceof Request.Ping);
    }
  }

  /** Builds text close to a request, with all the choices taken from the fuzzer's input. */
  private static final class JsonishBuilder {
    private static final String[] FIELDS = {"id", "op", "paths", "id", "op", "paths", "ID", "", "op\u0000", "pathsx"};
    private static final String[] OPS = {"open", "ping", "Open", "", "open\u0000", "close"};
    private static final String[] NUMBERS = {
        "0", "-0", "7", "-1", "1.5", "1e5", "1E+5", "-2.5e-3", "0.0", "01", "1.", ".5", "+1", "1e", "-",
        "9223372036854775808", "1" + "0".repeat(63), "-" + "1".repeat(64), "1" + "0".repeat(64), "NaN",
        "Infinity", "0x10", "1_000", "1.0e+" + "9".repeat(60)};
    private static final String[] JUNK = {",", ":", "{", "}", "[", "]", "\"", "\\", " ", "\n", "/*c*/", "//c\n",
        "'a'", "\u00e9", "\uFEFF", "\u2028", "nul", "tru", "\\u", "\\ud800", "\\u0000"};

    private final FuzzedDataProvider data;

    JsonishBuilder(FuzzedDataProvider data) {
      this.data = data;
    }

    String request() {
      StringBuilder b = new StringBuilder();
      b.append('{');
      int fields = data.consumeInt(0, 4);
      for (int i = 0; i < fields; i++) {
        if (i > 0) {
          b.append(data.consumeInt(0, 15) == 0 ? "" : ",");
        }
        junk(b);
        b.append(string(data.pickValue(FIELDS))).append(':');
        junk(b);
        value(b, 0);
      }
      b.append(data.consumeInt(0, 15) == 0 ? "" : "}");
      junk(b);
      return b.toString();
    }

    private void value(StringBuilder b, int depth) {
      switch (data.consumeInt(0, 9)) {
        case 0, 1 -> b.append(string(data.pickValue(OPS)));
        case 2 -> b.append(string(text()));
        case 3 -> b.append(data.pickValue(NUMBERS));
        case 4 -> b.append(data.pickValue(new String[] {"true", "false", "null"}));
        case 5, 6, 7 -> {
          b.append('[');
          int n = data.consumeInt(0, 5);
          for (int i = 0; i < n; i++) {
            if (i > 0) {
              b.append(',');
            }
            if (depth < 3 && data.consumeInt(0, 7) == 0) {
              value(b, depth + 1);
            } else {
              b.append(string("/" + text()));
            }
          }
          b.append(data.consumeInt(0, 15) == 0 ? "" : "]");
        }
        case 8 -> {
          if (depth < 3) {
            b.append("{\"x\":");
            value(b, depth + 1);
            b.append('}');
          } else {
            b.append("{}");
          }
        }
        default -> b.append(data.consumeString(8));
      }
    }

    private String text() {
      return data.consumeString(data.consumeInt(0, 300));
    }

    /** A JSON string literal: usually escaped properly, sometimes with raw or \\u escapes. */
    private String string(String s) {
      StringBuilder b = new StringBuilder("\"");
      boolean raw = data.consumeInt(0, 15) == 0;
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        if (raw) {
          b.append(c);
        } else if (c == '"' || c == '\\') {
          b.append('\\').append(c);
        } else if (c < 0x20 || data.consumeInt(0, 31) == 0) {
          b.append(String.format("\\u%04x", (int) c));
        } else {
          b.append(c);
        }
      }
      return b.append('"').toString();
    }

    private void junk(StringBuilder b) {
      if (data.consumeInt(0, 15) == 0) {
        b.append(data.pickValue(JUNK));
      }
    }
  }
}
