package dev.fdbroker.client;

import java.io.InterruptedIOException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;

/**
 * How long a request waits before its next try: exponential back-off with jitter, within the
 * request's deadline. The first pause is 10 to 20 ms; each next one may be twice as long, up to 0.5
 * to 1 s. A pause is cut short to leave the try after it some time before the deadline (100 ms), and
 * none is made when less than that is left: a try with a millisecond to go would only turn the last
 * real error into a timeout.
 *
 * <p>The pauses start small because a broker that restarts is usually back within a second, and
 * grow so that a broker that stays away is not asked hundreds of times a second by every worker.
 * The jitter (each pause somewhere in the upper half of its ceiling) keeps the workers of a
 * restarting broker from all knocking again in the same millisecond.
 */
final class Backoff {
  static final long FIRST_CEILING_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
  static final long MAX_CEILING_NANOS = TimeUnit.SECONDS.toNanos(1);
  static final long MIN_TRY_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

  /** Time and waiting, behind an interface so that tests run a schedule without sleeping. */
  interface Clock {
    long nanoTime();

    void sleep(long nanos) throws InterruptedException;
  }

  static final Clock SYSTEM_CLOCK = new Clock() {
    @Override
    public long nanoTime() {
      return System.nanoTime();
    }

    @Override
    public void sleep(long nanos) throws InterruptedException {
      TimeUnit.NANOSECONDS.sleep(nanos);
    }
  };

  /** The back-off every client uses unless a test gives it another. */
  static final Backoff DEFAULT =
      new Backoff(SYSTEM_CLOCK, () -> ThreadLocalRandom.current().nextDouble(), MIN_TRY_NANOS);

  private final Clock clock;
  private final DoubleSupplier jitter;
  private final long minTryNanos;

  /**
   * @param jitter values in [0, 1): where in the upper half of its ceiling each pause falls
   * @param minTryNanos the least time left before the deadline for a try after a pause
   */
  Backoff(Clock clock, DoubleSupplier jitter, long minTryNanos) {
    this.clock = clock;
    this.jitter = jitter;
    this.minTryNanos = minTryNanos;
  }

  /** The tries of one request that may take {@code timeoutMillis} from now. */
  Attempts begin(int timeoutMillis) {
    return new Attempts(clock.nanoTime(), TimeUnit.MILLISECONDS.toNanos(timeoutMillis));
  }

  /** The tries of one request, the first one under way. Used by one thread. */
  final class Attempts {
    private final long start;
    private final long deadline;
    private long ceiling = FIRST_CEILING_NANOS;
    private int count = 1;

    private Attempts(long start, long timeoutNanos) {
      this.start = start;
      this.deadline = start + timeoutNanos;
    }

    /** Counts a try made at once, without a pause. */
    void again() {
      count++;
    }

    /**
     * Waits before the next try and counts it; or returns false, without waiting, if too little
     * time is left for another try.
     */
    boolean pause() throws InterruptedIOException {
      long left = deadline - minTryNanos - clock.nanoTime();
      if (left <= 0) {
        return false;
      }
      long half = ceiling / 2;
      long wait = Math.min(left, half + (long) (jitter.getAsDouble() * half));
      ceiling = Math.min(MAX_CEILING_NANOS, ceiling * 2);
      try {
        clock.sleep(wait);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while waiting to retry a request to fdbroker");
      }
      count++;
      return true;
    }

    /** Milliseconds until the deadline, at least 1 (a timeout of 0 would mean forever). */
    int remainingMillis() {
      return (int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - clock.nanoTime()));
    }

    boolean first() {
      return count == 1;
    }

    int count() {
      return count;
    }

    /** For messages: "3 tries in 1021 ms". */
    @Override
    public String toString() {
      return count + (count == 1 ? " try" : " tries") + " in "
          + TimeUnit.NANOSECONDS.toMillis(clock.nanoTime() - start) + " ms";
    }
  }
}
