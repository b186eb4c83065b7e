package dev.fdbroker.broker.replay;

import dev.fdbroker.broker.policy.Caller;
import dev.fdbroker.broker.policy.Decision;
import dev.fdbroker.broker.policy.Policy;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * Replays the decisions of an audit log against a policy, offline: for each logged decision, what
 * the policy would answer now, from the same caller and path, touching no file. Only the policy's
 * verdict on the path text is compared; what the broker then made of an allowed path (not found,
 * a symlink, the owner check of {@code owner: caller}) depends on the filesystem and is not
 * judged.
 *
 * <p>The log is read as a stream: memory grows with the distinct changes found, not with the lines.
 */
public final class AuditReplay {
  /** One line of output: the key a changed decision is counted under. */
  private record Key(boolean nowAllowed, long uid, String user, long gid, List<Long> groups, String unit,
      String path) {}

  /** What the decisions under one key add up to. */
  private static final class Tally {
    long count;
    final TreeSet<String> was = new TreeSet<>();
    String now;
    boolean ifOwner;
  }

  private final Policy policy;
  private final Map<Key, Tally> changes = new HashMap<>();
  private long decisions;
  private long changed;
  private long notDecisions;
  private long withoutIdentity;
  private boolean someUnit;
  private long nowOnlyIfOwner;

  private AuditReplay(Policy policy) {
    this.policy = policy;
  }

  /**
   * Replays every decision in {@code log} against {@code policy}.
   *
   * @param name the log's name in error messages, as the operator gave it
   * @throws BadAuditLineException at the first line that is not an audit line
   */
  public static ReplayReport replay(Policy policy, InputStream log, String name)
      throws IOException, BadAuditLineException {
    AuditReplay replay = new AuditReplay(policy);
    AuditLines lines = new AuditLines(log);
    try {
      while (lines.next()) {
        if (lines.isBlank()) {
          continue;
        }
        LoggedDecision d;
        try {
          d = AuditLineParser.parse(lines.bytes(), lines.length());
        } catch (AuditLineParser.Malformed e) {
          throw new BadAuditLineException(name, lines.number(), e.getMessage()
              + (lines.ended() ? "" : " (the last line has no newline: was it cut short while being written?)"));
        }
        if (d == null) {
          replay.notDecisions++;
        } else {
          replay.add(d);
        }
      }
    } catch (AuditLineParser.Malformed e) {
      throw new BadAuditLineException(name, lines.number(), e.getMessage());
    }
    return replay.report();
  }

  private void add(LoggedDecision d) {
    decisions++;
    if (!d.identityLogged()) {
      withoutIdentity++;
    }
    someUnit |= d.unit() != null;
    Caller caller = d.caller();
    Decision now = d.toSee() ? policy.decideToSee(caller, d.path()) : policy.decide(caller, d.path());
    String nowRule = now.ruleName();
    boolean ifOwner = now.ownerOnly();
    if (now.allowed() == d.allowed()) {
      // Still allowed, but now only if the caller owns the file: a change, or none, that only the
      // file's owner decides. Noted, unless the same rule (by name) decided before.
      if (ifOwner && !Objects.equals(nowRule, d.rule())) {
        nowOnlyIfOwner++;
      }
      return;
    }
    changed++;
    Key key = new Key(now.allowed(), d.uid(), d.user(), d.gid(), groupList(caller), d.unit(), d.path());
    Tally t = changes.computeIfAbsent(key, k -> new Tally());
    t.count++;
    t.was.add(Change.ruleText(d.rule()));
    t.now = nowRule;
    t.ifOwner = ifOwner;
  }

  private static List<Long> groupList(Caller caller) {
    List<Long> groups = new ArrayList<>(caller.groupCount());
    for (int i = 0; i < caller.groupCount(); i++) {
      groups.add(caller.group(i));
    }
    return groups;
  }

  private ReplayReport report() {
    List<Change> list = new ArrayList<>(changes.size());
    changes.forEach((k, t) -> list.add(new Change(k.nowAllowed(), k.uid(), k.user(), k.gid(), k.groups(), k.unit(),
        k.path(), t.count, List.copyOf(t.was), t.now, t.ifOwner)));
    list.sort(Change.ORDER);
    // A broker reads callers' units only while its policy names one, and on a systemd host nearly
    // every process is in a unit: a log without any was most likely written without looking.
    boolean unitsUnknown = policy.usesUnits() && decisions > 0 && !someUnit;
    return new ReplayReport(list, decisions, changed, notDecisions, withoutIdentity, unitsUnknown, nowOnlyIfOwner);
  }
}
