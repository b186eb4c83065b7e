package dev.fdbroker.broker.opener;

import dev.fdbroker.broker.posix.FileStat;
import dev.fdbroker.protocol.ErrorCode;

/** What came of opening one path. */
public sealed interface OpenOutcome permits OpenOutcome.Opened, OpenOutcome.Refused {

  /** An open, read-only descriptor of a regular file. The receiver owns {@code fd} and must close it. */
  record Opened(int fd, FileStat stat) implements OpenOutcome {}

  /** Not opened; nothing to close. */
  record Refused(ErrorCode code, String message) implements OpenOutcome {}
}
