package dev.fdbroker.broker.audit;

import dev.fdbroker.broker.policy.Caller;
import dev.fdbroker.protocol.JsonBytes;
import dev.fdbroker.protocol.JsonText;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * Encodes an {@link AuditEvent} as one JSON line, UTF-8, ending in a newline: the audit log's
 * format (docs/observability.md). Every string is escaped as Jackson escapes ({@link JsonText}):
 * quotes, backslashes and control characters, so no requested path can end a string, a record or
 * a line early. U+0085, U+2028 and U+2029 are escaped too: JSON allows them raw, but line-based
 * tools split lines on them.
 *
 * <p>Why not a JSON generator per line, or logstash-logback-encoder as before: the line is written
 * for every decision, on the request path, and the fixed cost of setting up a generator (and of a
 * logging event) was most of the audit's cost: measured, about a sixth of the broker's CPU time
 * per request. The fields are fixed, so the line is assembled as bytes ({@link JsonBytes}).
 */
final class AuditLine {
  private static final DateTimeFormatter SECOND = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss");

  /** The line's fixed parts, in order: each is followed by a value. */
  private static final byte[] TIME = JsonBytes.ascii("{\"time\":\"");
  private static final byte[] CONN = JsonBytes.ascii("Z\",\"conn\":");
  private static final byte[] UID = JsonBytes.ascii(",\"uid\":");
  private static final byte[] USER = JsonBytes.ascii(",\"user\":");
  private static final byte[] GID = JsonBytes.ascii(",\"gid\":");
  private static final byte[] GROUPS = JsonBytes.ascii(",\"groups\":[");
  private static final byte[] GROUPS_END = JsonBytes.ascii("]");
  private static final byte[] UNIT = JsonBytes.ascii(",\"unit\":");
  private static final byte[] PID = JsonBytes.ascii(",\"pid\":");
  private static final byte[] EXE = JsonBytes.ascii(",\"exe\":");
  private static final byte[] OP = JsonBytes.ascii(",\"op\":");
  private static final byte[] PATH = JsonBytes.ascii(",\"path\":");
  private static final byte[] DECISION = JsonBytes.ascii(",\"decision\":");
  private static final byte[] RULE = JsonBytes.ascii(",\"rule\":");
  private static final byte[] ERROR = JsonBytes.ascii(",\"error\":");
  private static final byte[] LATENCY = JsonBytes.ascii(",\"latency_us\":");
  private static final byte[] END = JsonBytes.ascii("}\n");

  /** The formatted date and time of the current second, shared: formatting it is the dear part of a timestamp. */
  private record Second(long epochSecond, byte[] text) {}

  private static volatile Second second = new Second(Long.MIN_VALUE, new byte[0]);

  private AuditLine() {}

  /** The event as a JSON line. */
  static byte[] encode(AuditEvent e) {
    return encodeInPlace(e).toBytes();
  }

  /**
   * The event as a JSON line in this thread's buffer ({@link JsonBytes#start}): its first {@link
   * JsonBytes#length} bytes, good until the thread's next text there. What the audit log records
   * with, copying it where it goes, so that a line makes no array of its own.
   */
  static JsonBytes encodeInPlace(AuditEvent e) {
    long epochSecond = Math.floorDiv(e.epochNanos(), 1_000_000_000L);
    long nano = Math.floorMod(e.epochNanos(), 1_000_000_000L);
    Caller c = e.caller();
    JsonBytes line = JsonBytes.start(0)
        .raw(TIME).raw(secondText(epochSecond)).put((byte) '.').digits(nano, 9)
        .raw(CONN).number(e.connection())
        .raw(UID).number(c.uid())
        .raw(USER).stringOnOneLine(c.user())
        .raw(GID).number(c.gid())
        .raw(GROUPS);
    for (int i = 0; i < c.groupCount(); i++) {
      if (i > 0) {
        line.put((byte) ',');
      }
      line.number(c.group(i));
    }
    return line.raw(GROUPS_END)
        .raw(PID).number(c.pid())
        .raw(EXE).stringOnOneLine(e.executable())
        .raw(UNIT).stringOnOneLine(c.unit())
        .raw(OP).stringOnOneLine(e.op())
        .raw(PATH).stringOnOneLine(e.path())
        .raw(DECISION).stringOnOneLine(e.decision())
        .raw(RULE).stringOnOneLine(e.rule())
        .raw(ERROR).stringOnOneLine(e.error())
        .raw(LATENCY).number(e.latencyMicros())
        .raw(END);
  }

  private static byte[] secondText(long epochSecond) {
    Second s = second;
    if (s.epochSecond() != epochSecond) {
      byte[] text = JsonBytes.ascii(SECOND.format(LocalDateTime.ofEpochSecond(epochSecond, 0, ZoneOffset.UTC)));
      s = new Second(epochSecond, text);
      second = s; // racing threads format the same second alike
    }
    return s.text();
  }
}
