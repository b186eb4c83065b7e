package dev.fdbroker.broker.audit;

import java.time.Instant;

/**
 * The wall-clock time of a {@link System#nanoTime()} reading, in nanoseconds since the epoch, for
 * audit records: a request reads the monotonic clock where it starts and after each path anyway,
 * and this turns such a reading into a time of day without an {@link Instant} per request (nor a
 * second clock reading): an anchor (a wall-clock and a monotonic reading taken together) plus the
 * monotonic time since. The anchor is taken afresh every {@link #ANCHOR_NANOS}, so that the system
 * clock's adjustments (NTP's slewing, at most 0.5 ms a second, or a step) show within that.
 */
public final class WallClock {
  /** How long an anchor serves: 10 a second, a few bytes each, and at most 50 µs of slewing apart. */
  static final long ANCHOR_NANOS = 100_000_000L;

  private record Anchor(long nanoTime, long epochNanos) {}

  private static volatile Anchor anchor = anchorNow();

  private WallClock() {}

  /** Nanoseconds since the epoch at the {@link System#nanoTime()} reading {@code nanoTime}. */
  public static long epochNanos(long nanoTime) {
    Anchor a = anchor;
    if (nanoTime - a.nanoTime() > ANCHOR_NANOS) {
      a = anchorNow();
      anchor = a; // threads racing here anchor alike
    }
    return a.epochNanos() + (nanoTime - a.nanoTime());
  }

  private static Anchor anchorNow() {
    Instant now = Instant.now();
    long nanoTime = System.nanoTime();
    return new Anchor(nanoTime, now.getEpochSecond() * 1_000_000_000L + now.getNano());
  }
}
