package dev.fdbroker.client;

import dev.fdbroker.protocol.ErrorCode;
import java.io.IOException;

/**
 * The broker refused a whole request: it is busy (connection limit), or found the request
 * malformed or too large. {@link #code()} tells which; {@code busy} is worth retrying later.
 */
public final class BrokerRefusedException extends IOException {
  private static final long serialVersionUID = 1L;

  private final ErrorCode code;

  public BrokerRefusedException(ErrorCode code, String message) {
    super("fdbroker refused the request: " + code.wireName() + ": " + message);
    this.code = code;
  }

  public ErrorCode code() {
    return code;
  }
}
