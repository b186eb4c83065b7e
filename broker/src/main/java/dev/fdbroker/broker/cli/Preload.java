package dev.fdbroker.broker.cli;

import dev.fdbroker.broker.posix.Posix;
import java.math.BigDecimal;
import org.newsclub.net.unix.AFUNIXSocket;
import org.slf4j.LoggerFactory;

/**
 * Starts the slow class initializations of start-up on a second thread, while the main thread
 * parses the command line: the logging system (logback's configuration), BigDecimal (its tables,
 * which Jackson's parsers need), the broker's native calls (FFM generates and links code for its
 * downcall) and junixsocket's native library. Each is a one-time cost of tens of milliseconds on
 * these machines, independent of the command line; the main thread finds them done, or waits for
 * the rest. The broker answers its first request sooner under socket activation, where start-up
 * is on the first client's clock. Whatever fails here fails again, and is reported, where the
 * main thread first uses it.
 */
final class Preload {
  private Preload() {}

  static void start() {
    Thread.ofPlatform().daemon(true).name("fdbroker-preload").start(Preload::run);
  }

  private static void run() {
    try {
      LoggerFactory.getILoggerFactory();
      BigDecimal.ONE.scale();
      Posix.close(-1); // links the downcall (class initialization); EBADF, and nothing closed
      AFUNIXSocket.isSupported();
    } catch (Throwable e) {
      // reported by the main thread
    }
  }
}
