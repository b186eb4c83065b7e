package dev.fdbroker.broker.policy;

import java.util.Arrays;
import java.util.List;

/**
 * One rule of a policy: who it applies to, and which paths it allows and denies. Made only by
 * {@link PolicyCompiler} from validated config, and immutable.
 *
 * @param index the rule's position in the policy (the main file's rules, then each drop-in's in
 *     name order); among rules that match, the first decides
 * @param file the file the rule is written in (the policy file or a drop-in)
 * @param everyone the rule lists user "*"
 * @param uids sorted
 * @param uidRanges inclusive ranges, as {@code [first, last, first, last, ...]}
 * @param gids sorted
 * @param units unit name patterns, {@code *} matching within the name
 * @param ownerIsCaller a file this rule allows is granted only if the caller owns it
 */
public record Rule(int index, String name, String file, Location location, boolean everyone, long[] uids,
    long[] uidRanges, long[] gids, List<UnitPattern> units, boolean ownerIsCaller, List<PathPattern> allow,
    List<PathPattern> deny) {

  public Rule {
    units = List.copyOf(units);
  }

  /**
   * A rule applies to a caller whose uid it lists (or holds in a range), that is in a group it
   * lists (primary or supplementary), or whose systemd unit one of its unit patterns matches.
   */
  public boolean appliesTo(Caller caller) {
    if (everyone || Arrays.binarySearch(uids, caller.uid()) >= 0) {
      return true;
    }
    for (int i = 0; i < uidRanges.length; i += 2) {
      if (caller.uid() >= uidRanges[i] && caller.uid() <= uidRanges[i + 1]) {
        return true;
      }
    }
    for (long g : gids) {
      if (caller.inGroup(g)) {
        return true;
      }
    }
    String unit = caller.unit();
    if (unit != null) {
      for (UnitPattern pattern : units) {
        if (pattern.matches(unit)) {
          return true;
        }
      }
    }
    return false;
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
