package dev.fdbroker.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RequestCodecTest {

  static Request decode(String json) throws BadRequestException {
    return decode(json.getBytes(StandardCharsets.UTF_8));
  }

  static Request decode(byte[] json) throws BadRequestException {
    return RequestCodec.decode(new Frame(json, 0, json.length), 64);
  }

  static BadRequestException bad(String json) {
    return assertThrows(BadRequestException.class, () -> decode(json));
  }

  @Test
  void decodesOpenAndPing() throws Exception {
    Request open = decode("{\"id\": 7, \"op\": \"open\", \"paths\": [\"/a\", \"/b c\"]}");
    assertEquals(new Request.Open(RequestId.ofNumber(7), List.of("/a", "/b c")), open);
    Request ping = decode("{\"op\":\"ping\",\"id\":\"x\"}");
    assertEquals(new Request.Ping(RequestId.ofString("x")), ping);
    assertEquals(RequestId.NONE, decode("{\"op\":\"ping\"}").id());
  }

  @Test
  void decodesStatAndList() throws Exception {
    assertEquals(new Request.Stat(RequestId.ofNumber(1), List.of("/srv/a/x.png", "/srv/a")),
        decode("{\"id\": 1, \"op\": \"stat\", \"paths\": [\"/srv/a/x.png\", \"/srv/a\"]}"));
    assertEquals(new Request.List(RequestId.ofNumber(2), "/srv/a", null),
        decode("{\"id\": 2, \"op\": \"list\", \"path\": \"/srv/a\", \"cursor\": null}"));
    assertEquals(new Request.List(RequestId.NONE, "/srv/a", null), decode("{\"op\": \"list\", \"path\": \"/srv/a\"}"));
    assertEquals(new Request.List(RequestId.NONE, "/", "7:1f"), decode("{\"cursor\":\"7:1f\",\"path\":\"/\",\"op\":\"list\"}"));
    String longest = "x".repeat(ProtocolLimits.MAX_CURSOR_CHARS);
    assertEquals(longest, ((Request.List) decode("{\"op\":\"list\",\"path\":\"/\",\"cursor\":\"" + longest + "\"}")).cursor());
    bad("{\"op\":\"list\",\"path\":\"/\",\"cursor\":\"" + longest + "x\"}");
    for (Request r : List.of(new Request.Stat(RequestId.ofNumber(3), List.of("/a", "/b")),
        new Request.List(RequestId.ofString("s"), "/a", null), new Request.List(RequestId.NONE, "/a", "c:1"))) {
      byte[] frame = RequestCodec.encode(r);
      assertEquals(r, RequestCodec.decode(new Frame(frame, 4, frame.length - 4), 64));
    }
  }

  @Test
  void echoesNumericIdsExactly() throws Exception {
    String big = "123456789012345678901234567890";
    assertEquals(big, decode("{\"id\":" + big + ",\"op\":\"ping\"}").id().text());
    assertEquals("1.50e3", decode("{\"id\":1.50e3,\"op\":\"ping\"}").id().text());
    byte[] reply = ReplyCodec.encode(new Reply.Pong(decode("{\"id\":" + big + ",\"op\":\"ping\"}").id(), "v", 1, 64));
    assertTrue(new String(reply, 4, reply.length - 4, StandardCharsets.UTF_8).contains("\"id\":" + big + ","));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
      "[1,2]                                          | request must be a JSON object",
      "`\"open\"`                                     | request must be a JSON object",
      "{}                                             | missing \"op\"",
      "{\"op\":1}                                     | \"op\" must be a string",
      "{\"op\":\"unlink\",\"paths\":[\"/a\"]}         | unknown op \"unlink\" (expected \"open\", \"stat\", \"list\" or \"ping\")",
      "{\"op\":\"open\"}                              | \"open\" needs \"paths\"",
      "{\"op\":\"open\",\"paths\":[]}                 | \"paths\" must name at least one path",
      "{\"op\":\"open\",\"paths\":\"/a\"}             | \"paths\" must be an array of strings",
      "{\"op\":\"open\",\"paths\":[\"/a\",3]}         | \"paths\" must be an array of strings",
      "{\"op\":\"open\",\"paths\":[[\"/a\"]]}         | \"paths\" must be an array of strings",
      "{\"op\":\"open\",\"paths\":[null]}             | \"paths\" must be an array of strings",
      "{\"op\":\"ping\",\"paths\":[\"/a\"]}           | \"ping\" takes no \"paths\"",
      "{\"op\":\"ping\",\"id\":{\"a\":1}}             | \"id\" must be a JSON scalar",
      "{\"op\":\"ping\",\"id\":[1]}                   | \"id\" must be a JSON scalar",
      "{\"op\":\"ping\",\"uid\":0}                    | unknown field \"uid\"",
      "{\"op\":\"ping\"} {}                           | trailing data after the request object",
      "{\"op\":\"stat\"}                              | \"stat\" needs \"paths\"",
      "{\"op\":\"stat\",\"path\":\"/a\"}              | \"stat\" takes no \"path\"",
      "{\"op\":\"open\",\"paths\":[\"/a\"],\"cursor\":null} | \"open\" takes no \"cursor\"",
      "{\"op\":\"list\"}                              | \"list\" needs \"path\"",
      "{\"op\":\"list\",\"path\":[\"/a\"]}            | \"path\" must be a string",
      "{\"op\":\"list\",\"paths\":[\"/a\"]}           | \"list\" takes no \"paths\" (it lists one directory: \"path\")",
      "{\"op\":\"list\",\"path\":\"/a\",\"cursor\":5}   | \"cursor\" must be a string or null",
      "{\"op\":\"list\",\"path\":\"/a\",\"cursor\":\"\"} | \"cursor\" must be 1 to 128 characters, as the broker gave it",
      "{\"op\":\"list\",\"path\":\"/a\",\"cursor\":\"a b\"} | \"cursor\" is not one the broker gave",
      "{\"op\":\"list\",\"path\":\"/a\",\"cursor\":\"\u00e9\"} | \"cursor\" is not one the broker gave",
      "{\"op\":\"list\",\"path\":\"/a\",\"path\":\"/b\"} | malformed JSON: Duplicate field 'path'",
  })
  void refusesMalformedRequestsWithClearMessages(String json, String message) {
    assertEquals(message, bad(json).getMessage());
  }

  @Test
  void refusesBrokenJson() {
    assertTrue(bad("{\"op\":\"open\",\"paths\":[\"/a\"").getMessage().startsWith("malformed JSON: "));
    assertTrue(bad("{\"op\":\"ping\",\"op\":\"open\"}").getMessage().contains("Duplicate field 'op'"));
    assertTrue(bad("").getMessage().startsWith("request must be a JSON object"));
    assertTrue(bad("{'op':'ping'}").getMessage().startsWith("malformed JSON: "));
    assertTrue(bad("{\"op\":\"ping\",\"id\":NaN}").getMessage().startsWith("malformed JSON: "));
    String deep = "{\"op\":\"ping\",\"x\":" + "[".repeat(100) + "]".repeat(100) + "}";
    // The unknown field's value is skipped, not refused unread, and the parser bounds its nesting.
    assertTrue(bad(deep).getMessage().startsWith("malformed JSON: Document nesting depth"), bad(deep).getMessage());
  }

  @Test
  void refusesInvalidUtf8() {
    byte[] json = "{\"op\":\"open\",\"paths\":[\"/a_\"]}".getBytes(StandardCharsets.UTF_8);
    json[25] = (byte) 0xc3; // a lead byte followed by '"' is not UTF-8
    BadRequestException e = assertThrows(BadRequestException.class, () -> decode(json));
    assertEquals("request is not valid UTF-8 (at byte 25)", e.getMessage());
    byte[] overlong = "{\"op\":\"open\",\"paths\":[\"/__\"]}".getBytes(StandardCharsets.UTF_8);
    overlong[25] = (byte) 0xc0; // overlong encoding of '/'
    overlong[26] = (byte) 0xaf;
    assertEquals("request is not valid UTF-8 (at byte 25)",
        assertThrows(BadRequestException.class, () -> decode(overlong)).getMessage());
    byte[] surrogate = "{\"op\":\"open\",\"paths\":[\"/___\"]}".getBytes(StandardCharsets.UTF_8);
    surrogate[25] = (byte) 0xed; // U+D800 encoded as if it were a character (CESU-8)
    surrogate[26] = (byte) 0xa0;
    surrogate[27] = (byte) 0x80;
    assertThrows(BadRequestException.class, () -> decode(surrogate));
  }

  @ParameterizedTest
  @CsvSource({"UTF-16BE", "UTF-16LE", "UTF-32BE", "UTF-32LE"})
  void refusesOtherEncodingsThatJacksonWouldDetect(String charset) {
    // Found by RequestCodecFuzzTest: zero bytes made Jackson read the frame as UTF-16/32.
    byte[] json = "{\"op\":\"open\",\"paths\":[\"/etc/x\"]}".getBytes(java.nio.charset.Charset.forName(charset));
    BadRequestException e = assertThrows(BadRequestException.class, () -> decode(json));
    assertTrue(e.getMessage().startsWith("request contains a NUL byte"), e.getMessage());
  }

  @Test
  void boundsTheIdSoThatEveryReplyFitsAFrame() throws Exception {
    String ok = "i".repeat(256);
    assertEquals(ok, decode("{\"op\":\"ping\",\"id\":\"" + ok + "\"}").id().text());
    assertEquals("\"id\" is longer than 256 characters", bad("{\"op\":\"ping\",\"id\":\"" + ok + "i\"}").getMessage());
    assertTrue(bad("{\"op\":\"ping\",\"id\":" + "9".repeat(65) + "}").getMessage().startsWith("malformed JSON: "));
    assertEquals("\"id\" is longer than 64 characters", bad("{\"op\":\"ping\",\"id\":-" + "9".repeat(60) + "e-123}").getMessage());
  }

  @Test
  void echoesTheIdWhereverItStands() {
    assertEquals(RequestId.ofNumber(42), bad("{\"id\":42,\"op\":\"open\",\"paths\":[1]}").id());
    assertEquals(RequestId.ofNumber(42), bad("{\"op\":\"open\",\"paths\":[1],\"id\":42}").id());
    assertEquals(RequestId.ofNumber(42), bad("{\"uid\":0,\"op\":\"open\",\"paths\":[\"/a\"],\"id\":42}").id());
    // Only a request that cannot be read as far as its id loses it.
    assertEquals(RequestId.NONE, bad("{\"op\":\"open\",\"paths\":[1,],\"id\":42}").id());
    assertEquals(RequestId.NONE, bad("{\"op\":\"ping\",\"id\":[42]}").id());
  }

  /** Whatever else a request with an unknown op holds means nothing: the op is what is wrong. */
  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
      "{\"id\":3,\"op\":\"delete\",\"paths\":[\"/a\"]}",
      "{\"paths\":[\"/a\"],\"op\":\"delete\",\"id\":3}",
      "{\"id\":3,\"op\":\"delete\",\"path\":\"/a\"}",
      "{\"id\":3,\"path\":\"/a\",\"op\":\"delete\"}",
      "{\"id\":3,\"op\":\"delete\",\"paths\":[\"/a\"],\"recursive\":true}",
      "{\"recursive\":{\"depth\":[1,[2]]},\"op\":\"delete\",\"id\":3}",
      "{\"op\":\"delete\",\"paths\":[1],\"id\":3}",
      "{\"paths\":{\"a\":[1]},\"op\":\"delete\",\"id\":3}",
      "{\"op\":\"delete\",\"paths\":[],\"id\":3}",
  })
  void anUnknownOpIsNamedWhateverElseTheRequestHolds(String json) {
    BadRequestException e = bad(json);
    assertEquals("unknown op \"delete\" (expected \"open\", \"stat\", \"list\" or \"ping\")", e.getMessage());
    assertEquals(RequestId.ofNumber(3), e.id());
  }

  @Test
  void theVerdictDoesNotDependOnFieldOrder() {
    assertEquals("unknown field \"uid\"", bad("{\"uid\":0,\"paths\":[1],\"op\":\"open\"}").getMessage());
    assertEquals("unknown field \"uid\"", bad("{\"op\":\"open\",\"paths\":[1],\"uid\":0}").getMessage());
    assertEquals("\"paths\" must be an array of strings", bad("{\"paths\":[1],\"op\":\"open\"}").getMessage());
    assertEquals("\"ping\" takes no \"paths\"", bad("{\"paths\":[\"/a\"],\"op\":\"ping\"}").getMessage());
  }

  @Test
  void enforcesThePathLimit() throws Exception {
    List<String> paths = new ArrayList<>(Arrays.asList(new String[64]));
    paths.replaceAll(x -> "/p");
    byte[] ok = RequestCodec.encode(new Request.Open(RequestId.ofNumber(1), paths));
    assertInstanceOf(Request.Open.class, RequestCodec.decode(new Frame(ok, 4, ok.length - 4), 64));
    paths.add("/p");
    byte[] tooMany = RequestCodec.encode(new Request.Open(RequestId.ofNumber(1), paths));
    BadRequestException e = assertThrows(BadRequestException.class,
        () -> RequestCodec.decode(new Frame(tooMany, 4, tooMany.length - 4), 64));
    assertEquals("too many paths: at most 64 per request", e.getMessage());
    assertThrows(BadRequestException.class,
        () -> RequestCodec.decode(new Frame(ok, 4, ok.length - 4), 10));
  }

  @Test
  void encodeThenDecodeRoundTrips() throws Exception {
    Request r = new Request.Open(RequestId.ofString("é\"\\"), List.of("/x/\u00e9", "/\uD83D\uDE00", "/a\u0001b"));
    byte[] frame = RequestCodec.encode(r);
    int n = ((frame[0] & 0xff) << 24) | ((frame[1] & 0xff) << 16) | ((frame[2] & 0xff) << 8) | (frame[3] & 0xff);
    assertEquals(frame.length - 4, n);
    assertEquals(r, RequestCodec.decode(new Frame(frame, 4, n), 64));
  }
}
