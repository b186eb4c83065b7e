package dev.fdbroker.broker.policy;

import java.nio.file.Path;
import java.util.List;

/**
 * A compiled, immutable policy: the rules, the limits, and one trie holding every pattern. It can
 * only be made by {@link #load} (or {@link PolicyCompiler}) from validated config, so a bad rule
 * never exists at run time. Safe to share between threads.
 */
public final class Policy {

  /** One pattern of one rule, as stored in the trie. */
  private record Entry(Rule rule, PathPattern pattern, boolean deny) {}

  private final String source;
  private final List<Rule> rules;
  private final Limits limits;
  private final Observability observability;
  private final Entry[] entries;
  private final PatternTrie trie;

  Policy(String source, List<Rule> rules, Limits limits, Observability observability) {
    this.source = source;
    this.rules = List.copyOf(rules);
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
  }

  /** Reads and compiles a policy file, failing with a message that names file, line and field. */
  public static Policy load(Path file) throws ConfigException {
    String name = file.toString();
    return new PolicyCompiler(name).compile(ConfigReader.read(file, name));
  }

  /**
   * Decides whether {@code caller} may open {@code path}, which must be canonical (checked by
   * {@link dev.fdbroker.protocol.PathSyntax} first). Touches no file.
   *
   * <p>Deny wins: a matching deny pattern in any rule that applies to the caller beats every allow;
   * otherwise a matching allow grants; otherwise the default is to deny. Among several matches of
   * the same kind, the rule that comes first in the file is reported.
   */
  public Decision decide(Caller caller, String path) {
    int[] best = {Integer.MAX_VALUE, Integer.MAX_VALUE}; // [deny, allow] entry ids
    trie.match(path, id -> {
      Entry e = entries[id];
      if (e.rule().appliesTo(caller)) {
        // Ids follow file order, so the lowest is the first rule (and its first pattern).
        int slot = e.deny() ? 0 : 1;
        best[slot] = Math.min(best[slot], id);
      }
    });
    if (best[0] != Integer.MAX_VALUE) {
      Entry e = entries[best[0]];
      return new Decision.Denied(e.rule(), e.pattern());
    }
    if (best[1] != Integer.MAX_VALUE) {
      Entry e = entries[best[1]];
      return new Decision.Allowed(e.rule(), e.pattern());
    }
    return new Decision.NoRuleAllows();
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
