package dev.fdbroker.protocol;

import java.io.IOException;

/** A reply that does not follow protocol v1: the peer is not a v1 broker, or the stream is corrupt. */
public final class MalformedReplyException extends IOException {
  private static final long serialVersionUID = 1L;

  public MalformedReplyException(String message) {
    super(message);
  }
}
