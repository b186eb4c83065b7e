package dev.fdbroker.client;

import java.io.IOException;
import java.nio.file.Path;

/** No connection to the broker could be made: its socket is missing, refuses, or is not ours to use. */
public final class BrokerUnavailableException extends IOException {
  private static final long serialVersionUID = 1L;

  public BrokerUnavailableException(Path socket, IOException cause) {
    super("cannot connect to fdbroker at " + socket + ": " + cause.getMessage(), cause);
  }
}
