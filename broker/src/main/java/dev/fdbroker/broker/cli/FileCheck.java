package dev.fdbroker.broker.cli;

import dev.fdbroker.broker.opener.OpenOutcome;
import dev.fdbroker.broker.opener.SecureOpener;
import dev.fdbroker.broker.posix.Posix;

/**
 * What the broker would answer for a path the policy allows, found the way the broker finds it:
 * opened read-only through {@link SecureOpener}, then closed. For {@code explain --check-files}.
 */
final class FileCheck {
  static final String GRANTED = "granted";

  private FileCheck() {}

  /**
   * @param owner the uid that must own the file (a rule with owner: caller), or {@link
   *     SecureOpener#ANY_OWNER}
   */
  static String answer(SecureOpener opener, String path, long owner) {
    return switch (opener.open(path, owner)) {
      case OpenOutcome.Opened o -> {
        Posix.closePair(o.pin(), o.fd());
        yield GRANTED + " (a regular file of " + o.stat().size() + " bytes, owned by uid " + o.stat().owner() + ")";
      }
      case OpenOutcome.Refused r -> r.code().wireName() + " (" + r.message() + ")";
    };
  }
}
