package dev.fdbroker.broker.cli;

import dev.fdbroker.broker.posix.Posix;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * Starts the two slowest parts of start-up on a second thread, while the main thread parses the
 * command line and reads the policy: linking the broker's native calls (FFM builds code for each
 * downcall, some 150 ms in all on these machines) and loading junixsocket's native library. The
 * broker answers its first request sooner under socket activation, where start-up is on the
 * first client's clock. Whatever fails here fails again, and is reported, where the main thread
 * first uses it.
 */
final class Preload {
  private Preload() {}

  static void start() {
    Thread.ofPlatform().daemon(true).name("fdbroker-preload").start(Preload::run);
  }

  private static void run() {
    try {
      Posix.close(-1); // links the downcalls (class initialization); EBADF, and nothing closed
      AFUNIXSocket.isSupported();
    } catch (Throwable e) {
      // reported by the main thread
    }
  }
}
