package dev.fdbroker.broker.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class WallClockTest {

  private static long nowNanos() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000_000L + now.getNano();
  }

  @Test
  void tellsTheTimeOfAMonotonicReading() throws Exception {
    for (int i = 0; i < 5; i++) {
      long before = nowNanos();
      long wall = WallClock.epochNanos(System.nanoTime());
      long after = nowNanos();
      // The system clock and the anchor's monotonic offset agree to well within a millisecond; the
      // slack is for a busy machine, where a thread can lose its CPU between two readings.
      assertTrue(wall >= before - 5_000_000 && wall <= after + 5_000_000, before + " <= " + wall + " <= " + after);
      Thread.sleep(WallClock.ANCHOR_NANOS / 1_000_000 / 2); // across anchors too
    }
  }

  @Test
  void readingsAnAnchorServesKeepTheirSpacing() {
    long t = System.nanoTime();
    long wall = WallClock.epochNanos(t);
    assertEquals(wall + 1234, WallClock.epochNanos(t + 1234));
    assertEquals(wall - 5_000_000, WallClock.epochNanos(t - 5_000_000), "a reading taken before the anchor");
  }
}
