package dev.fdbroker.broker.policy;

import java.util.Arrays;
import java.util.List;

/**
 * One rule of a policy: who it applies to, and which paths it allows and denies. Made only by
 * {@link PolicyCompiler} from validated config, and immutable.
 *
 * @param index the rule's position in the file; among rules that match, the first decides
 * @param everyone the rule lists user "*"
 * @param uids sorted
 * @param gids sorted
 */
public record Rule(int index, String name, Location location, boolean everyone, long[] uids,
    long[] gids, List<PathPattern> allow, List<PathPattern> deny) {

  /** A rule applies to a caller whose uid, or primary gid, it lists. */
  public boolean appliesTo(Caller caller) {
    return everyone
        || Arrays.binarySearch(uids, caller.uid()) >= 0
        || Arrays.binarySearch(gids, caller.gid()) >= 0;
  }

  @Override
  public boolean equals(Object o) {
    return this == o;
  }

  @Override
  public int hashCode() {
    return System.identityHashCode(this);
  }

  @Override
  public String toString() {
    return "rule \"" + name + "\"";
  }
}
