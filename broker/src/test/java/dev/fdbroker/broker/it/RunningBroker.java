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

  /** Its open descriptors, counted in /proc. */
  int openDescriptors();

  @Override
  void close() throws IOException;
}
