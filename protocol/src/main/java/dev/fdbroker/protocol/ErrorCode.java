package dev.fdbroker.protocol;

/** The error codes of protocol v1. Codes are for programs; the accompanying messages are for humans. */
public enum ErrorCode {
  /** The policy does not grant this caller this path. Says nothing about whether the file exists. */
  DENIED("denied"),
  /** Allowed, but no such file (or a path component is not a directory). */
  NOT_FOUND("not_found"),
  /** Allowed, but a component of the path is a symbolic link; the broker never follows one. */
  SYMLINK("symlink"),
  /** Opened, but not a regular file (directory, FIFO, socket, device). */
  NOT_REGULAR("not_regular"),
  /** Listed, but not a directory. */
  NOT_DIRECTORY("not_directory"),
  /** The request, or this path in it, is not well formed. */
  BAD_REQUEST("bad_request"),
  /** A frame longer than the protocol allows; the connection is closed. */
  TOO_LARGE("too_large"),
  /** The broker is out of a resource (connections, descriptors); try again later. */
  BUSY("busy"),
  /** The broker failed to open or inspect an allowed file for another reason. */
  IO_ERROR("io_error");

  private final String wireName;

  ErrorCode(String wireName) {
    this.wireName = wireName;
  }

  /** The code as it appears on the wire. */
  public String wireName() {
    return wireName;
  }

  /** The code for a wire name, or null if the name is not a v1 code. */
  public static ErrorCode fromWireName(String name) {
    for (ErrorCode code : values()) {
      if (code.wireName.equals(name)) {
        return code;
      }
    }
    return null;
  }

  @Override
  public String toString() {
    return wireName;
  }
}
