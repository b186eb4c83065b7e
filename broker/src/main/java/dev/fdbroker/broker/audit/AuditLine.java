package dev.fdbroker.broker.audit;

import com.fasterxml.jackson.core.io.NumberOutput;
import dev.fdbroker.protocol.JsonText;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;

/**
 * Encodes an {@link AuditEvent} as one JSON line, UTF-8, ending in a newline: the audit log's
 * format (docs/observability.md). Every string is escaped as Jackson escapes ({@link JsonText}):
 * quotes, backslashes and control characters, so no requested path can end a string, a record or
 * a line early.
 *
 * <p>Why not a JSON generator per line, or logstash-logback-encoder as before: the line is written
 * for every decision, on the request path, and the fixed cost of setting up a generator (and of a
 * logging event) was most of the audit's cost: measured, about a sixth of the broker's CPU time
 * per request. The fields are fixed, so the structure is plain bytes, and only the values need
 * encoding.
 */
final class AuditLine {
  private static final DateTimeFormatter SECOND = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss");
  private static final byte[] NULL = ascii("null");

  /** The line's fixed parts, in order: each is followed by a value. */
  private static final byte[] TIME = ascii("{\"time\":\"");
  private static final byte[] CONN = ascii("Z\",\"conn\":");
  private static final byte[] UID = ascii(",\"uid\":");
  private static final byte[] GID = ascii(",\"gid\":");
  private static final byte[] PID = ascii(",\"pid\":");
  private static final byte[] EXE = ascii(",\"exe\":");
  private static final byte[] OP = ascii(",\"op\":");
  private static final byte[] PATH = ascii(",\"path\":");
  private static final byte[] DECISION = ascii(",\"decision\":");
  private static final byte[] RULE = ascii(",\"rule\":");
  private static final byte[] ERROR = ascii(",\"error\":");
  private static final byte[] LATENCY = ascii(",\"latency_us\":");
  private static final byte[] END = ascii("}\n");

  /** The formatted date and time of the current second, shared: formatting it is the dear part of a timestamp. */
  private record Second(long epochSecond, byte[] text) {}

  private static volatile Second second = new Second(Long.MIN_VALUE, new byte[0]);

  /** Where a thread assembles its lines: one allocation per line (the line itself). Kept only while small. */
  private static final ThreadLocal<byte[][]> SCRATCH = ThreadLocal.withInitial(() -> new byte[][] {new byte[2048]});
  private static final int KEPT_SCRATCH = 64 * 1024;

  private AuditLine() {}

  /** The event as a JSON line, time-stamped now. */
  static byte[] encode(AuditEvent e) {
    return encode(e, Instant.now());
  }

  static byte[] encode(AuditEvent e, Instant when) {
    String exe = e.executable();
    String op = e.op();
    String path = e.path();
    String decision = e.decision();
    String rule = e.rule();
    String error = e.error();
    // Fixed parts, at most 20 digits for each of 5 numbers, 29 for the time, and the strings.
    int most = 160 + 5 * 20 + 29 + most(exe) + most(op) + most(path) + most(decision) + most(rule) + most(error);
    byte[][] holder = SCRATCH.get();
    byte[] b = holder[0];
    if (b.length < most) {
      b = new byte[Math.max(most, b.length * 2)];
      if (b.length <= KEPT_SCRATCH) {
        holder[0] = b; // a huge path once does not keep a huge buffer per thread
      }
    }
    int n = put(b, 0, TIME);
    n = put(b, n, secondText(when.getEpochSecond()));
    b[n++] = '.';
    n = nanos(b, n, when.getNano());
    n = put(b, n, CONN);
    n = NumberOutput.outputLong(e.connection(), b, n);
    n = put(b, n, UID);
    n = NumberOutput.outputLong(e.uid(), b, n);
    n = put(b, n, GID);
    n = NumberOutput.outputLong(e.gid(), b, n);
    n = put(b, n, PID);
    n = NumberOutput.outputLong(e.pid(), b, n);
    n = value(b, put(b, n, EXE), exe);
    n = value(b, put(b, n, OP), op);
    n = value(b, put(b, n, PATH), path);
    n = value(b, put(b, n, DECISION), decision);
    n = value(b, put(b, n, RULE), rule);
    n = value(b, put(b, n, ERROR), error);
    n = put(b, n, LATENCY);
    n = NumberOutput.outputLong(e.latencyMicros(), b, n);
    n = put(b, n, END);
    return Arrays.copyOf(b, n);
  }

  private static int most(String s) {
    return s == null ? NULL.length : JsonText.maxQuotedBytes(s);
  }

  /** A JSON string value (an unpaired surrogate written as U+FFFD), or null. */
  private static int value(byte[] b, int n, String s) {
    return s == null ? put(b, n, NULL) : JsonText.quoted(b, n, s);
  }

  private static byte[] secondText(long epochSecond) {
    Second s = second;
    if (s.epochSecond() != epochSecond) {
      byte[] text = ascii(SECOND.format(LocalDateTime.ofEpochSecond(epochSecond, 0, ZoneOffset.UTC)));
      s = new Second(epochSecond, text);
      second = s; // racing threads format the same second alike
    }
    return s.text();
  }

  /** Nine digits, zero-padded. */
  private static int nanos(byte[] b, int n, int nanos) {
    for (int i = 8; i >= 0; i--) {
      b[n + i] = (byte) ('0' + nanos % 10);
      nanos /= 10;
    }
    return n + 9;
  }

  private static int put(byte[] b, int n, byte[] part) {
    System.arraycopy(part, 0, b, n, part.length);
    return n + part.length;
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }
}
