package dev.fdbroker.broker.replay;

import java.util.ArrayList;
import java.util.List;

/**
 * What replaying a log found: the changes, in the order they are printed, and the counts.
 *
 * @param decisions the decisions replayed (lines with op "open" and decision "allow" or "deny")
 * @param changed how many of them the policy would answer the other way (decisions, not lines)
 * @param notDecisions lines that record no decision (a request or path refused as invalid)
 * @param withoutIdentity decisions logged without user, groups and unit (by an older broker)
 * @param unitsUnknown the policy names units, and no decision in the log has one
 * @param nowOnlyIfOwner allowed decisions that another rule now allows only if the caller owns the file
 */
public record ReplayReport(List<Change> changes, long decisions, long changed, long notDecisions,
    long withoutIdentity, boolean unitsUnknown, long nowOnlyIfOwner) {

  public ReplayReport {
    changes = List.copyOf(changes);
  }

  /** The report as printed: a line per change, then notes, if any, then the summary, always last. */
  public List<String> lines() {
    List<String> lines = new ArrayList<>();
    changes.forEach(c -> lines.add(c.line()));
    lines.addAll(notes());
    lines.add(summary());
    return lines;
  }

  /** {@code replayed N decisions: K would change}. */
  public String summary() {
    // One form for every count, for scripts to match.
    return "replayed " + decisions + " decisions: " + changed + " would change";
  }

  /** What the operator should know about how far the replay can be trusted. */
  public List<String> notes() {
    List<String> notes = new ArrayList<>();
    if (notDecisions > 0) {
      notes.add("note: " + lines(notDecisions) + " recorded no decision (an invalid request or path) and "
          + (notDecisions == 1 ? "was" : "were") + " skipped");
    }
    if (withoutIdentity > 0) {
      notes.add("note: " + decisionsText(withoutIdentity) + " had no user, groups and unit (logged by an older"
          + " broker) and " + (withoutIdentity == 1 ? "was" : "were") + " replayed as from a caller with none");
    }
    if (unitsUnknown) {
      notes.add("note: the policy names systemd units, but no decision in the log has one: a broker looks units up"
          + " only while its policy names one, so rules by unit were replayed as applying to nobody");
    }
    if (nowOnlyIfOwner > 0) {
      notes.add("note: " + decisionsText(nowOnlyIfOwner) + " allowed before "
          + (nowOnlyIfOwner == 1 ? "is" : "are") + " now allowed by a rule with owner: caller, only if the caller"
          + " owns the file; not counted as changes");
    }
    return notes;
  }

  private static String lines(long n) {
    return n + " line" + (n == 1 ? "" : "s");
  }

  private static String decisionsText(long n) {
    return n + " decision" + (n == 1 ? "" : "s");
  }
}
