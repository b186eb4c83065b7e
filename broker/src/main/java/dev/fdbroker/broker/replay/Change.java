package dev.fdbroker.broker.replay;

import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The decisions on one path for one caller whose answer the new policy would turn around, in one
 * direction: one line of the replay's output.
 *
 * <p>The caller is who the policy judges: uid, user name, primary gid, supplementary groups and
 * unit. The pid is left out, since no rule can name it and it differs with every process.
 *
 * @param nowAllowed the new answer: "deny -> allow" if true, "allow -> deny" if false
 * @param user null if none
 * @param groups sorted
 * @param unit null if none
 * @param count how many decisions
 * @param was the rules that decided them, as printed, sorted ({@value #NO_RULE} for default deny)
 * @param now the new policy's deciding rule, or null (default deny)
 * @param ifOwner the new allow is by a rule with {@code owner: caller}: only if the caller owns the file
 */
public record Change(boolean nowAllowed, long uid, String user, long gid, List<Long> groups, String unit, String path,
    long count, List<String> was, String now, boolean ifOwner) {

  /** How a decision without a rule (default deny) is shown: parentheses make it no rule's name. */
  public static final String NO_RULE = "(none)";

  /** "allow -> deny" lines first, then "deny -> allow"; within each, by caller, then path. */
  static final Comparator<Change> ORDER = Comparator.comparing(Change::nowAllowed)
      .thenComparingLong(Change::uid)
      .thenComparingLong(Change::gid)
      .thenComparing(Change::user, Comparator.nullsFirst(Comparator.naturalOrder()))
      .thenComparing(Change::groups, Change::compareGroups)
      .thenComparing(Change::unit, Comparator.nullsFirst(Comparator.naturalOrder()))
      .thenComparing(Change::path);

  public Change {
    groups = List.copyOf(groups);
    was = List.copyOf(was);
  }

  /**
   * The line, for example {@code allow -> deny  count=3 uid=1001(worker) gid=1001 groups=27,100
   * unit=render@a.service path=/srv/a/x was=render-assets now=(none)}.
   */
  public String line() {
    StringBuilder b = new StringBuilder(nowAllowed ? "deny -> allow" : "allow -> deny")
        .append("  count=").append(count)
        .append(" uid=").append(uid);
    if (user != null) {
      b.append('(').append(ReplayText.value(user)).append(')');
    }
    b.append(" gid=").append(gid);
    if (!groups.isEmpty()) {
      b.append(" groups=").append(groups.stream().map(String::valueOf).collect(Collectors.joining(",")));
    }
    if (unit != null) {
      b.append(" unit=").append(ReplayText.value(unit));
    }
    b.append(" path=").append(ReplayText.value(path))
        .append(" was=").append(String.join(",", was))
        .append(" now=").append(ruleText(now));
    if (ifOwner) {
      b.append(" (if the caller owns the file)");
    }
    return b.toString();
  }

  /** A rule name as printed: {@value #NO_RULE} for none; quoted if it could be misread, a comma included. */
  static String ruleText(String rule) {
    if (rule == null) {
      return NO_RULE;
    }
    return rule.indexOf(',') >= 0 ? ReplayText.quoted(rule) : ReplayText.value(rule);
  }

  private static int compareGroups(List<Long> a, List<Long> b) {
    for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
      int c = Long.compare(a.get(i), b.get(i));
      if (c != 0) {
        return c;
      }
    }
    return Integer.compare(a.size(), b.size());
  }
}
