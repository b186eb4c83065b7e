package dev.fdbroker.broker.opener;

import dev.fdbroker.broker.posix.FileStat;
import dev.fdbroker.protocol.ErrorCode;

/** What came of describing one path (a stat). Nothing to close either way. */
public sealed interface StatOutcome permits StatOutcome.Described, StatOutcome.Refused {

  /** The path's file, a symbolic link described as itself. */
  record Described(FileStat stat) implements StatOutcome {}

  /** Not described, for the reason given. */
  record Refused(ErrorCode code, String message) implements StatOutcome {
    static Refused of(OpenOutcome.Refused r) {
      return new Refused(r.code(), r.message());
    }
  }
}
