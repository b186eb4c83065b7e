package dev.fdbroker.broker.it;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A broker process a test drives, however it was started: by the test as its own user
 * ({@link BrokerProcess}), or as the installed unit runs it ({@link HostBroker}).
 */
interface RunningBroker extends AutoCloseable {
  Path socket();

  /** What it has written (stderr and stdout). */
  String log();

  boolean isAlive();

  long pid();

  /** Its open descriptors, counted in /proc. */
  default int openDescriptors() {
    return count(Path.of("/proc", Long.toString(pid()), "fd"));
  }

  /** Its threads (platform threads; virtual threads are not OS threads). */
  default int osThreads() {
    return count(Path.of("/proc", Long.toString(pid()), "task"));
  }

  private static int count(Path dir) {
    try (java.util.stream.Stream<Path> entries = java.nio.file.Files.list(dir)) {
      return (int) entries.count();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  void close() throws IOException;
}
