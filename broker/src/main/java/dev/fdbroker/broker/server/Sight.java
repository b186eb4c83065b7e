package dev.fdbroker.broker.server;

import dev.fdbroker.broker.policy.Caller;
import dev.fdbroker.broker.policy.Decision;
import dev.fdbroker.broker.policy.Policy;
import dev.fdbroker.broker.posix.FileStat;

/**
 * What a caller may see of a file whose path the policy lets it see ({@link Policy#decideToSee}),
 * once the file's statx is known. One judgement for stat and list alike.
 *
 * <p>Invariant: a list shows an entry exactly when a stat of its path would describe it.
 */
enum Sight {
  /** All of it: type, size, time and mode. */
  WHOLE,
  /** Nothing: the path is allowed only to the file's owner ({@code owner: caller}), and this is another's. */
  OTHERS_FILE,
  /** Nothing: the path was only on the way to an allowed pattern, and this is no directory to pass through. */
  NO_WAY;

  static Sight of(Policy snapshot, Caller caller, String path, Decision decision, FileStat stat) {
    // A directory another user owns is still on the way to what the caller may own below it.
    if (decision.ownerOnly() && stat.owner() != caller.uid()
        && !(stat.isDirectory() && snapshot.beneath(caller, path) != null)) {
      return OTHERS_FILE;
    }
    if (decision instanceof Decision.Traversable && !stat.isDirectory()) {
      return NO_WAY;
    }
    return WHOLE;
  }
}
