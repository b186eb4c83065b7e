package dev.fdbroker.broker.posix;

import java.io.IOException;

/** A native call failed in a way its caller cannot treat as an ordinary outcome. */
public final class PosixException extends IOException {
  private static final long serialVersionUID = 1L;

  private final int errno;

  public PosixException(String call, int errno) {
    super(call + " failed: " + Errno.name(errno));
    this.errno = errno;
  }

  public int errno() {
    return errno;
  }
}
