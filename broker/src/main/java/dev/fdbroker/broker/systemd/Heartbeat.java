package dev.fdbroker.broker.systemd;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps systemd informed while the broker runs: a fresh STATUS= summary, and, when the unit sets
 * WatchdogSec=, WATCHDOG=1 at half of WATCHDOG_USEC for as long as the broker is healthy. If the
 * broker wedges (accept loop gone, JVM stalled), the pings stop and systemd restarts it.
 */
public final class Heartbeat implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Heartbeat.class);
  private static final Duration STATUS_PERIOD = Duration.ofSeconds(10);

  private final Thread thread;

  private Heartbeat(Thread thread) {
    this.thread = thread;
  }

  /**
   * Starts the heartbeat if systemd listens (NOTIFY_SOCKET); empty otherwise.
   *
   * @param healthy checked before each watchdog ping; false withholds it
   * @param status the current one-line summary
   */
  public static Optional<Heartbeat> start(SdNotify notify, BooleanSupplier healthy, Supplier<String> status) {
    if (!notify.enabled()) {
      return Optional.empty();
    }
    Optional<Duration> watchdog = watchdogInterval(System.getenv(), ProcessHandle.current().pid());
    Duration period = watchdog.filter(w -> w.compareTo(STATUS_PERIOD) < 0).orElse(STATUS_PERIOD);
    watchdog.ifPresent(w -> log.info("systemd watchdog: pinging every {} ms", w.toMillis()));
    Thread t = Thread.ofPlatform().daemon().name("fdbroker-heartbeat").start(() -> {
      try {
        while (true) {
          if (watchdog.isPresent() && healthy.getAsBoolean()) {
            notify.watchdog(status.get());
          } else {
            if (watchdog.isPresent()) {
              log.warn("unhealthy: withholding the watchdog ping");
            }
            notify.status(status.get());
          }
          Thread.sleep(period);
        }
      } catch (InterruptedException e) {
        // closed
      }
    });
    return Optional.of(new Heartbeat(t));
  }

  /** Half of WATCHDOG_USEC, if the watchdog is meant for this process (WATCHDOG_PID unset or ours). */
  static Optional<Duration> watchdogInterval(Map<String, String> env, long pid) {
    String usec = env.get("WATCHDOG_USEC");
    if (usec == null) {
      return Optional.empty();
    }
    String forPid = env.get("WATCHDOG_PID");
    if (forPid != null && !forPid.equals(Long.toString(pid))) {
      return Optional.empty();
    }
    try {
      long micros = Long.parseLong(usec);
      return micros > 0 ? Optional.of(Duration.ofNanos(micros * 1000 / 2)) : Optional.empty();
    } catch (NumberFormatException e) {
      log.warn("ignoring WATCHDOG_USEC={}: not a number", usec);
      return Optional.empty();
    }
  }

  @Override
  public void close() {
    thread.interrupt();
  }
}
