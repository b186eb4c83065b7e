package dev.fdbroker.protocol;

import java.io.IOException;

/**
 * A frame header that cannot be honoured (length 0, or over the limit). Framing is lost, so the
 * connection must be closed after the error reply.
 */
public final class FramingException extends IOException {
  private static final long serialVersionUID = 1L;

  private final ErrorCode code;

  public FramingException(ErrorCode code, String message) {
    super(message);
    this.code = code;
  }

  public ErrorCode code() {
    return code;
  }
}
