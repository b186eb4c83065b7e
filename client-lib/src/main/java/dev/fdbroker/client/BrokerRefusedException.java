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

  /** The last of several refusals. @param note how long it was tried, e.g. " (7 tries in 3012 ms)" */
  BrokerRefusedException(BrokerRefusedException last, String note) {
    super(last.getMessage() + note);
    this.code = last.code;
  }

  public ErrorCode code() {
    return code;
  }
}
