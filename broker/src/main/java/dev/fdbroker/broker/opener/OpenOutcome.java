package dev.fdbroker.broker.opener;

import dev.fdbroker.broker.posix.FileStat;
import dev.fdbroker.protocol.ErrorCode;

/** What came of opening one path. */
public sealed interface OpenOutcome permits OpenOutcome.Opened, OpenOutcome.Refused {

  /**
   * An open, read-only descriptor of a regular file ({@code fd}), and the {@code O_PATH} pin it was
   * reopened from. The receiver owns both, and closes both once {@code fd} is sent
   * ({@link dev.fdbroker.broker.posix.Posix#closePair}: usually neighbours, closed in one call).
   */
  record Opened(int fd, int pin, FileStat stat) implements OpenOutcome {}

  /** Not opened; nothing to close. */
  record Refused(ErrorCode code, String message) implements OpenOutcome {}
}
