package dev.fdbroker.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class BackoffTest {

  /** A clock that moves only when someone sleeps. */
  static final class FakeClock implements Backoff.Clock {
    private long now = 1_000_000_000L;
    final List<Long> sleptMillis = new ArrayList<>();

    @Override
    public synchronized long nanoTime() {
      return now;
    }

    @Override
    public synchronized void sleep(long nanos) {
      sleptMillis.add(TimeUnit.NANOSECONDS.toMillis(nanos));
      now += nanos;
    }

    synchronized void advanceMillis(long millis) {
      now += TimeUnit.MILLISECONDS.toNanos(millis);
    }

    synchronized List<Long> slept() {
      return List.copyOf(sleptMillis);
    }
  }

  /** The client's back-off, with a clock and jitter of the test's. */
  static Backoff backoff(Backoff.Clock clock, double jitter) {
    return new Backoff(clock, () -> jitter, Backoff.MIN_TRY_NANOS);
  }

  @Test
  void pausesDoubleFromTenMillisecondsToHalfASecondAtTheLeastJitter() throws Exception {
    FakeClock clock = new FakeClock();
    Backoff.Attempts attempts = backoff(clock, 0.0).begin(60_000);
    for (int i = 0; i < 9; i++) {
      assertTrue(attempts.pause());
    }
    assertEquals(List.of(10L, 20L, 40L, 80L, 160L, 320L, 500L, 500L, 500L), clock.slept());
    assertEquals(10, attempts.count());
  }

  @Test
  void pausesDoubleFromTwentyMillisecondsToOneSecondAtTheMostJitter() throws Exception {
    FakeClock clock = new FakeClock();
    Backoff.Attempts attempts = backoff(clock, 0.999_999).begin(60_000);
    for (int i = 0; i < 8; i++) {
      assertTrue(attempts.pause());
    }
    assertEquals(List.of(19L, 39L, 79L, 159L, 319L, 639L, 999L, 999L), clock.slept());
  }

  @Test
  void theLastPauseLeavesTheLastTryItsTimeAndThenThereIsNoOther() throws Exception {
    FakeClock clock = new FakeClock();
    Backoff.Attempts attempts = backoff(clock, 0.0).begin(1000);
    while (attempts.pause()) {
      // until the deadline
    }
    // 10 + 20 + 40 + 80 + 160 + 320 = 630 ms, then 270 of the next 500 ms, leaving the last try 100.
    assertEquals(List.of(10L, 20L, 40L, 80L, 160L, 320L, 270L), clock.slept());
    assertEquals(8, attempts.count());
    assertEquals("8 tries in 900 ms", attempts.toString());
    assertEquals(100, attempts.remainingMillis());
  }

  @Test
  void noPauseWhenTooLittleIsLeftForAnotherTry() throws Exception {
    FakeClock clock = new FakeClock();
    Backoff.Attempts attempts = backoff(clock, 0.0).begin(1000);
    clock.advanceMillis(950); // a first try that took its time
    assertFalse(attempts.pause());
    assertEquals(List.of(), clock.slept());
    assertEquals("1 try in 950 ms", attempts.toString());
    clock.advanceMillis(100);
    assertEquals(1, attempts.remainingMillis(), "past the deadline; a timeout of 0 would mean none");
  }

  @Test
  void triesWithoutAPauseAreCounted() {
    Backoff.Attempts attempts = backoff(new FakeClock(), 0.0).begin(1000);
    assertTrue(attempts.first());
    attempts.again();
    assertFalse(attempts.first());
    assertEquals(2, attempts.count());
  }

  @Test
  void anInterruptedPauseEndsTheTriesAndKeepsTheInterrupt() {
    Backoff.Attempts attempts = backoff(Backoff.SYSTEM_CLOCK, 0.0).begin(60_000);
    Thread.currentThread().interrupt();
    try {
      assertThrows(InterruptedIOException.class, attempts::pause);
      assertTrue(Thread.currentThread().isInterrupted());
    } finally {
      Thread.interrupted();
    }
  }
}
