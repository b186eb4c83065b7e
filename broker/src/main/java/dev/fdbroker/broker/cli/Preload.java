package dev.fdbroker.broker.cli;

import dev.fdbroker.broker.posix.Posix;
import java.math.BigDecimal;
import java.util.concurrent.CountDownLatch;
import org.newsclub.net.unix.AFUNIXSocket;
import org.slf4j.LoggerFactory;

/**
 * Starts the slow class initializations of start-up on a second thread, while the main thread
 * parses the command line: the logging system (logback's configuration), BigDecimal (its tables,
 * which Jackson's parsers need), the broker's native calls (FFM generates and links code for its
 * downcall), junixsocket's native library and the user lookup by uid that every new connection
 * makes (its downcall linked, not called). Each is a one-time cost of tens of milliseconds on these
 * machines, independent of the command line; the main thread finds them done, or waits for
 * the rest. The broker answers its first request sooner under socket activation, where start-up
 * is on the first client's clock. Whatever fails here fails again, and is reported, where the
 * main thread first uses it.
 */
final class Preload {
  private Preload() {}

  /** Open once the logging system is initialized (or failed to be). */
  private static final CountDownLatch LOGGING = new CountDownLatch(1);

  static void start() {
    Thread.ofPlatform().daemon(true).name("fdbroker-preload").start(Preload::run);
  }

  /**
   * Waits until logging is initialized. Call it before the first logger is made anywhere else:
   * SLF4J hands out stand-in loggers while it initializes, and one made at the wrong moment stays
   * silent for good.
   */
  static void awaitLogging() {
    boolean interrupted = false;
    while (true) {
      try {
        LOGGING.await();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private static void run() {
    try {
      LoggerFactory.getILoggerFactory();
    } catch (Throwable e) {
      // reported by the main thread
    } finally {
      LOGGING.countDown();
    }
    try {
      BigDecimal.ONE.scale();
      Posix.close(-1); // links the downcall (class initialization); EBADF, and nothing closed
      AFUNIXSocket.isSupported();
      Posix.linkUserLookup(); // the first connection's caller is looked up by uid
    } catch (Throwable e) {
      // reported by the main thread
    }
  }
}
