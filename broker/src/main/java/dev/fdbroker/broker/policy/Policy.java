package dev.fdbroker.broker.policy;

import java.nio.file.Path;
import java.util.List;

/**
 * A compiled, immutable policy: the rules, the limits, and one trie holding every pattern. It can
 * only be made by {@link #load} (or {@link PolicyCompiler}) from validated config, so a bad rule
 * never exists at run time. Safe to share between threads.
 */
public final class Policy {

  /**
   * One pattern of one rule, as stored in the trie, with the decisions it makes: made once here,
   * not per request.
   */
  private record Entry(Rule rule, PathPattern pattern, boolean deny, Decision decision, Decision.Traversable traversable) {
    Entry(Rule rule, PathPattern pattern, boolean deny) {
      this(rule, pattern, deny, deny ? new Decision.Denied(rule, pattern) : new Decision.Allowed(rule, pattern),
          new Decision.Traversable(rule, pattern));
    }
  }

  private static final Decision NO_RULE_ALLOWS = new Decision.NoRuleAllows();

  private final String source;
  private final List<Rule> rules;
  private final Limits limits;
  private final Observability observability;
  private final Entry[] entries;
  private final PatternTrie trie;
  private final List<ConfigWarning> warnings;
  private final boolean usesUnits;

  Policy(String source, List<Rule> rules, Limits limits, Observability observability, List<ConfigWarning> warnings) {
    this.source = source;
    this.rules = List.copyOf(rules);
    this.warnings = List.copyOf(warnings);
    this.usesUnits = rules.stream().anyMatch(r -> !r.units().isEmpty()
        || r.allow().stream().anyMatch(PathPattern::dependsOnUnit)
        || r.deny().stream().anyMatch(PathPattern::dependsOnUnit));
    this.limits = limits;
    this.observability = observability;
    int count = 0;
    for (Rule r : rules) {
      count += r.allow().size() + r.deny().size();
    }
    this.entries = new Entry[count];
    this.trie = new PatternTrie();
    int id = 0;
    for (Rule r : rules) {
      for (PathPattern p : r.deny()) {
        entries[id] = new Entry(r, p, true);
        trie.add(p, id++);
      }
      for (PathPattern p : r.allow()) {
        entries[id] = new Entry(r, p, false);
        trie.add(p, id++);
      }
    }
    trie.indexBeneath(i -> !entries[i].deny());
  }

  /**
   * Reads and compiles a policy file and its drop-ins, failing with every problem, each named with
   * its file, line, column and field.
   */
  public static Policy load(Path file) throws ConfigException {
    PolicyCheck check = check(file);
    if (!check.errors().isEmpty()) {
      throw new ConfigException(check.errors());
    }
    return check.policy();
  }

  /** Reads and compiles a policy file and its drop-ins, collecting every error and warning. */
  public static PolicyCheck check(Path file) {
    return new PolicyCompiler().compile(file, file.toString());
  }

  /** Things in the policy that are rarely meant ({@code check-config} prints them). */
  public List<ConfigWarning> warnings() {
    return warnings;
  }

  /**
   * Whether any rule depends on the caller's systemd unit: only then is it worth reading each
   * connecting process's cgroup.
   */
  public boolean usesUnits() {
    return usesUnits;
  }

  /**
   * Decides whether {@code caller} may open {@code path}, which must be canonical (checked by
   * {@link dev.fdbroker.protocol.PathSyntax} first). Touches no file.
   *
   * <p>Deny wins: a matching deny pattern in any rule that applies to the caller beats every allow;
   * otherwise a matching allow grants; otherwise the default is to deny. Among several matches of
   * the same kind, the rule that comes first in the policy is reported. An allow whose rule says
   * {@code owner: caller} grants only what the caller owns ({@link Rule#ownerIsCaller()}, checked
   * on the opened file by the broker); any other allow that matches is preferred to it.
   */
  public Decision decide(Caller caller, String path) {
    // Entry ids follow policy order, so the lowest is the first rule (and its first pattern).
    int deny = Integer.MAX_VALUE;
    int allow = Integer.MAX_VALUE;
    int allowIfOwner = Integer.MAX_VALUE; // an allow only if the caller owns the file
    // Read in place, not through trie.match's sink: a capturing lambda and its array of three
    // were allocated per decision.
    PatternTrie.NodeSet reached = trie.reached(path, caller);
    for (int k = 0; k < reached.size(); k++) {
      for (int id : reached.terminals(k)) {
        Entry e = entries[id];
        if (applies(e, caller)) {
          if (e.deny()) {
            deny = Math.min(deny, id);
          } else if (e.rule().ownerIsCaller()) {
            allowIfOwner = Math.min(allowIfOwner, id);
          } else {
            allow = Math.min(allow, id);
          }
        }
      }
    }
    if (deny != Integer.MAX_VALUE) {
      return entries[deny].decision();
    }
    // An allow without an owner condition beats one with: the file is granted whoever owns it.
    int allowed = allow != Integer.MAX_VALUE ? allow : allowIfOwner;
    if (allowed != Integer.MAX_VALUE) {
      return entries[allowed].decision();
    }
    return NO_RULE_ALLOWS;
  }

  /**
   * Decides whether {@code caller} may see {@code path} ({@code stat}, {@code list}): as {@link
   * #decide}, and where no rule decides, {@link Decision.Traversable} if an applicable allow could
   * match below it. Deny wins here too: a path a deny matches is never traversable. Touches no file.
   */
  public Decision decideToSee(Caller caller, String path) {
    Decision d = decide(caller, path);
    if (d instanceof Decision.NoRuleAllows) {
      Decision.Traversable t = beneath(caller, path);
      return t != null ? t : d;
    }
    return d;
  }

  /**
   * The first rule (in policy order) that applies to {@code caller} and has an allow pattern that
   * could match a path below {@code path}, or null. Says nothing of {@code path} itself.
   */
  public Decision.Traversable beneath(Caller caller, String path) {
    int best = Integer.MAX_VALUE;
    PatternTrie.NodeSet reached = trie.reached(path, caller);
    for (int k = 0; k < reached.size(); k++) {
      for (int id : reached.beneath(k)) {
        if (id >= best) {
          break; // ascending: the rest come later in the policy
        }
        // A pattern whose variable the caller has no value for matches nothing: no way down.
        if (applies(entries[id], caller) && entries[id].pattern().fillableBy(caller)) {
          best = id;
          break;
        }
      }
    }
    return best == Integer.MAX_VALUE ? null : entries[best].traversable();
  }


  /**
   * Whether an entry counts for the caller. A caller whose unit cannot be told is held to the
   * denies of every rule that names units, and to every deny pattern that depends on the unit (as
   * if its unit were any), and gets no allow that depends on the unit: not knowing can only take
   * files away, never grant them, whichever process connected.
   */
  private static boolean applies(Entry e, Caller caller) {
    if (!caller.unitUnknown()) {
      return e.rule().appliesTo(caller);
    }
    if (e.deny()) {
      return e.rule().appliesTo(caller) || !e.rule().units().isEmpty() || e.pattern().dependsOnUnit();
    }
    return e.rule().appliesTo(caller) && !e.pattern().dependsOnUnit();
  }

  /** The file this policy was read from, as given. */
  public String source() {
    return source;
  }

  public List<Rule> rules() {
    return rules;
  }

  public Limits limits() {
    return limits;
  }

  /** Where metrics and audit records go. */
  public Observability observability() {
    return observability;
  }
}
