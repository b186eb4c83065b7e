package dev.fdbroker.broker.logging;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;

/**
 * A warning that hostile callers or a broken environment can make recur in a tight loop (failed
 * accepts, failed sends, no thread to be had): written at most once per interval, with how many
 * like it were held back since the last one. Unthrottled, such a warning once wrote a million
 * lines in 18 seconds, filling the journal and costing a core.
 *
 * <p>Lock-free: the threads that hit the condition are often the request path's.
 */
public final class ThrottledLog {
  private final Logger log;
  private final long intervalNanos;
  /** When the next line may be written (System.nanoTime()); 0: at once. */
  private final AtomicLong nextAllowed = new AtomicLong();
  private final LongAdder heldBack = new LongAdder();

  public ThrottledLog(Logger log, Duration interval) {
    this.log = log;
    this.intervalNanos = interval.toNanos();
  }

  /** Logs at WARN unless a line was written within the interval; then only counts it. */
  public void warn(String format, Object... args) {
    long now = System.nanoTime();
    long next = nextAllowed.get();
    // The next allowed time is never 0 (| 1), which would mean "at once".
    if ((next != 0 && now - next < 0) || !nextAllowed.compareAndSet(next, (now + intervalNanos) | 1)) {
      heldBack.increment();
      return;
    }
    long held = heldBack.sumThenReset();
    if (held == 0) {
      log.warn(format, args);
    } else {
      log.warn(format + " ({} more like it since the last such line)", append(args, held));
    }
  }

  private static Object[] append(Object[] args, Object last) {
    Object[] all = java.util.Arrays.copyOf(args, args.length + 1);
    all[args.length] = last;
    return all;
  }
}
