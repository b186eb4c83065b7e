package dev.fdbroker.client;

import dev.fdbroker.protocol.ErrorCode;
import java.nio.file.FileSystemException;

/**
 * The broker refused one file for a reason java.nio has no type for: a symlink in the path, not a
 * regular file, a malformed path, the broker out of resources, or an I/O error. {@link #code()}
 * tells which.
 */
public final class BrokerFileException extends FileSystemException {
  private static final long serialVersionUID = 1L;

  private final ErrorCode code;

  public BrokerFileException(String path, ErrorCode code, String reason) {
    super(path, null, code.wireName() + ": " + reason);
    this.code = code;
  }

  /** The broker's error code for this file. */
  public ErrorCode code() {
    return code;
  }
}
