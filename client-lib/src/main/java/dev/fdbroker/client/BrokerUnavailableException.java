package dev.fdbroker.client;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The broker could not be reached, or the connection to it failed: its socket is missing, refuses
 * connections or is not ours to use, or the broker went away mid-request.
 */
public final class BrokerUnavailableException extends IOException {
  private static final long serialVersionUID = 1L;

  public BrokerUnavailableException(Path socket, IOException cause) {
    super("fdbroker at " + socket + " is unavailable: " + cause.getMessage(), cause);
  }
}
