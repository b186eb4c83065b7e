package dev.fdbroker.broker.opener;

import dev.fdbroker.protocol.ErrorCode;

/** What came of opening a directory to list it. */
public sealed interface DirectoryOutcome permits DirectoryOutcome.Opened, DirectoryOutcome.Refused {

  /** The directory, open for reading its entries; the receiver closes it. */
  record Opened(DirectoryReader reader) implements DirectoryOutcome {}

  /** Not opened; nothing to close. */
  record Refused(ErrorCode code, String message) implements DirectoryOutcome {
    static Refused of(OpenOutcome.Refused r) {
      return new Refused(r.code(), r.message());
    }
  }
}
