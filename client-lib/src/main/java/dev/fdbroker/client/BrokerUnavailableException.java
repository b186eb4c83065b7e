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
    this(socket, cause, "");
  }

  /** @param note how long it was tried, e.g. " (7 tries in 3012 ms)", or "" */
  BrokerUnavailableException(Path socket, IOException cause, String note) {
    super("fdbroker at " + socket + " is unavailable" + note + ": " + cause.getMessage(), cause);
  }
}
