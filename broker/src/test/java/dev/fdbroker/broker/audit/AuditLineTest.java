package dev.fdbroker.broker.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fdbroker.protocol.JsonText;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import dev.fdbroker.broker.policy.Caller;
import org.junit.jupiter.api.Test;

class AuditLineTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static AuditEvent event(String exe, String path, String rule, Instant when) {
    return new AuditEvent(when, 17, new Caller(4294967294L, 1001, 4242, new long[] {27, 4}, exe, exe), exe, "open", path,
        "allow", rule, null, 21);
  }

  private static JsonNode parse(byte[] line) throws Exception {
    String text = new String(line, StandardCharsets.UTF_8);
    assertTrue(text.endsWith("\n"), "a line ends in a newline");
    assertEquals(text.length() - 1, text.indexOf('\n'), "one line, whatever the values hold: " + text);
    // Nor any character that line-based tools (Python's splitlines, log shippers) end lines at.
    String body = text.substring(0, text.length() - 1);
    assertEquals(List.of(body), body.lines().toList());
    for (char lineEnd : new char[] {'\r', '\u000b', '\u000c', '\u001c', '\u001d', '\u001e', '\u0085', '\u2028', '\u2029'}) {
      assertEquals(-1, text.indexOf(lineEnd), "U+" + Integer.toHexString(lineEnd) + " in " + text);
    }
    return JSON.readTree(text);
  }

  @Test
  void theLineHasEveryFieldInOrderWithTheirValues() throws Exception {
    Instant when = Instant.parse("2026-11-26T12:00:45.000556473Z");
    byte[] line = AuditLine.encode(event("/usr/bin/python3.11", "/srv/assets/logo.png", "render-assets", when));
    assertEquals("{\"time\":\"2026-11-26T12:00:45.000556473Z\",\"conn\":17,\"uid\":4294967294,"
        + "\"user\":\"/usr/bin/python3.11\",\"gid\":1001,\"groups\":[4,27],\"pid\":4242,"
        + "\"exe\":\"/usr/bin/python3.11\",\"unit\":\"/usr/bin/python3.11\",\"op\":\"open\",\"path\":\"/srv/assets/logo.png\",\"decision\":\"allow\","
        + "\"rule\":\"render-assets\",\"error\":null,\"latency_us\":21}\n", new String(line, StandardCharsets.UTF_8));
    JsonNode n = parse(AuditLine.encode(event(null, "/x", null, Instant.parse("1970-01-01T00:00:00Z"))));
    assertEquals("1970-01-01T00:00:00.000000000Z", n.get("time").asText());
    assertTrue(n.get("exe").isNull());
    assertTrue(n.get("user").isNull());
    assertTrue(n.get("unit").isNull());
    assertTrue(n.get("rule").isNull());
  }

  @Test
  void anyStringIsWrittenExactlyAndSafely() throws Exception {
    Random random = new Random(42);
    String alphabet = "\"\\/\n\r\t\b\f\u0000\u0001\u001f\u007f aZ09é€\u2028\u2029\u0085\ud83d\ude00";
    for (int i = 0; i < 5000; i++) {
      StringBuilder b = new StringBuilder("/");
      int length = random.nextInt(40);
      for (int j = 0; j < length; j++) {
        b.append(random.nextInt(4) == 0 ? (char) random.nextInt(0x10000) : alphabet.charAt(random.nextInt(alphabet.length())));
      }
      String path = b.toString();
      Instant when = Instant.ofEpochSecond(random.nextInt(2_000_000_000), random.nextInt(1_000_000_000));
      JsonNode n = parse(AuditLine.encode(event(path, path, path, when)));
      String expected = JsonText.wellFormed(path);
      assertEquals(expected, n.get("path").asText());
      assertEquals(expected, n.get("exe").asText());
      assertEquals(expected, n.get("rule").asText());
      assertEquals(expected, n.get("user").asText());
      assertEquals(expected, n.get("unit").asText());
      assertEquals(when, Instant.parse(n.get("time").asText()));
      List<String> fields = new ArrayList<>();
      for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
        fields.add(it.next());
      }
      assertEquals(List.of("time", "conn", "uid", "user", "gid", "groups", "pid", "exe", "unit", "op", "path",
          "decision", "rule", "error", "latency_us"), fields, "no value can add or hide a field");
    }
  }

  @Test
  void charactersThatLineBasedToolsSplitOnAreEscaped() throws Exception {
    String line = new String(AuditLine.encode(event(null, "/a\u2028b\u2029c\u0085d€\u2028", null, Instant.EPOCH)),
        StandardCharsets.UTF_8);
    assertTrue(line.contains("\"path\":\"/a\\u2028b\\u2029c\\u0085d€\\u2028\""), line);
    assertEquals("/a\u2028b\u2029c\u0085d€\u2028", parse(line.getBytes(StandardCharsets.UTF_8)).get("path").asText());
  }

  @Test
  void unpairedSurrogatesBecomeTheReplacementCharacter() throws Exception {
    JsonNode n = parse(AuditLine.encode(event(null, "/a\ud800b\udc00c\ud83d\ude00", null, Instant.EPOCH)));
    assertEquals("/a\ufffdb\ufffdc\ud83d\ude00", n.get("path").asText());
  }

  @Test
  void aLongPathIsWrittenWhole() throws Exception {
    String path = "/" + "é".repeat(100_000);
    assertEquals(path, parse(AuditLine.encode(event(null, path, null, Instant.EPOCH))).get("path").asText());
    assertEquals("/short", parse(AuditLine.encode(event(null, "/short", null, Instant.EPOCH))).get("path").asText());
  }
}
