package dev.fdbroker.broker.policy;

import dev.fdbroker.broker.policy.ConfigNode.Entry;
import dev.fdbroker.broker.policy.ConfigNode.Kind;
import dev.fdbroker.broker.policy.ConfigNode.ListNode;
import dev.fdbroker.broker.policy.ConfigNode.MapNode;
import dev.fdbroker.broker.policy.ConfigNode.ScalarNode;
import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.broker.posix.PosixException;
import dev.fdbroker.protocol.ProtocolLimits;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Turns a config tree into a {@link Policy}, or fails on the first problem with a message naming
 * file, line, column and field. User and group names are resolved here, once, through the system's
 * user database; the running broker only compares numbers.
 */
final class PolicyCompiler {
  private static final Set<String> TOP_KEYS = Set.of("rules", "limits", "metrics", "audit");
  private static final Set<String> METRICS_KEYS = Set.of("listen");
  private static final Set<String> AUDIT_KEYS = Set.of("output");
  private static final Set<String> RULE_KEYS = Set.of("name", "users", "groups", "allow", "deny");
  private static final Set<String> LIMIT_KEYS = Set.of("max_connections", "max_connections_per_uid",
      "requests_per_second_per_uid", "max_paths_per_request", "idle_timeout_seconds", "request_timeout_seconds",
      "max_descriptors_in_flight", "max_descriptors_in_flight_per_uid");
  /** Rule names appear in logs and metric labels: keep them short and plain. */
  private static final Pattern RULE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
  private static final long MAX_ID = 0xfffffffeL; // (uid_t) -1 means "no user"
  private static final String AUDIT_OUTPUT = "\"stderr\" or an absolute file path";

  private final String file;

  PolicyCompiler(String file) {
    this.file = file;
  }

  Policy compile(ConfigNode root) throws ConfigException {
    MapNode top = map(root, "", "a mapping with \"rules\"");
    checkKeys(top, "", TOP_KEYS);
    Entry rulesEntry = top.entries().get("rules");
    if (rulesEntry == null) {
      throw new ConfigException(file, root.location(), "",
          "missing \"rules\" (write \"rules: []\" for a policy that denies everything)");
    }
    ListNode ruleList = list(rulesEntry.value(), "rules", "a list of rules");
    List<Rule> rules = new ArrayList<>();
    Map<String, Rule> byName = new HashMap<>();
    for (ConfigNode node : ruleList.items()) {
      String field = "rules[" + rules.size() + "]";
      Rule rule = rule(node, field, rules.size());
      Rule earlier = byName.putIfAbsent(rule.name(), rule);
      if (earlier != null) {
        throw new ConfigException(file, ((MapNode) node).entries().get("name").value().location(),
            field + ".name", "duplicate rule name \"" + rule.name() + "\" (first at line "
                + earlier.location().line() + ")");
      }
      rules.add(rule);
    }
    Entry limitsEntry = top.entries().get("limits");
    Limits limits = limitsEntry == null ? Limits.DEFAULTS : limits(limitsEntry.value());
    return new Policy(file, rules, limits, observability(top));
  }

  private Observability observability(MapNode top) throws ConfigException {
    String listen = null;
    Entry metrics = top.entries().get("metrics");
    if (metrics != null) {
      MapNode m = map(metrics.value(), "metrics", "a mapping such as {listen: \"127.0.0.1:9464\"}");
      checkKeys(m, "metrics", METRICS_KEYS);
      Entry e = m.entries().get("listen");
      if (e == null) {
        throw new ConfigException(file, m.location(), "metrics", "missing \"listen\" (host:port or unix:/path)");
      }
      listen = string(e.value(), "metrics.listen", "an address (host:port, unix:/path or systemd)");
      String problem = MetricsAddress.problem(listen);
      if (problem != null) {
        throw new ConfigException(file, e.value().location(), "metrics.listen", problem);
      }
    }
    java.nio.file.Path auditFile = null;
    Entry audit = top.entries().get("audit");
    if (audit != null) {
      MapNode a = map(audit.value(), "audit", "a mapping such as {output: /var/log/fdbroker/audit.jsonl}");
      checkKeys(a, "audit", AUDIT_KEYS);
      Entry e = a.entries().get("output");
      if (e != null) {
        String output = string(e.value(), "audit.output", AUDIT_OUTPUT);
        if (!output.equals("stderr")) {
          if (!output.startsWith("/")) {
            throw mismatch(e.value(), "audit.output", AUDIT_OUTPUT);
          }
          auditFile = java.nio.file.Path.of(output);
        }
      }
    }
    return new Observability(listen, auditFile);
  }

  private Rule rule(ConfigNode node, String field, int index) throws ConfigException {
    MapNode m = map(node, field, "a rule (a mapping with name, users or groups, and allow or deny)");
    checkKeys(m, field, RULE_KEYS);
    Entry nameEntry = m.entries().get("name");
    if (nameEntry == null) {
      throw new ConfigException(file, m.location(), field, "a rule needs a \"name\"");
    }
    String name = string(nameEntry.value(), field + ".name", "a rule name");
    if (!RULE_NAME.matcher(name).matches()) {
      throw new ConfigException(file, nameEntry.value().location(), field + ".name",
          "rule names are 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");
    }
    boolean everyone = false;
    TreeSet<Long> uids = new TreeSet<>();
    Entry usersEntry = m.entries().get("users");
    if (usersEntry != null) {
      List<ConfigNode> items = list(usersEntry.value(), field + ".users", "a list of user names or uids").items();
      for (int i = 0; i < items.size(); i++) {
        String f = field + ".users[" + i + "]";
        ScalarNode s = scalar(items.get(i), f, "a user name or numeric id");
        if (s.kind() == Kind.STRING && s.text().equals("*")) {
          everyone = true;
        } else {
          uids.add(id(s, f, true));
        }
      }
    }
    TreeSet<Long> gids = new TreeSet<>();
    Entry groupsEntry = m.entries().get("groups");
    if (groupsEntry != null) {
      List<ConfigNode> items = list(groupsEntry.value(), field + ".groups", "a list of group names or gids").items();
      for (int i = 0; i < items.size(); i++) {
        String f = field + ".groups[" + i + "]";
        gids.add(id(scalar(items.get(i), f, "a group name or numeric id"), f, false));
      }
    }
    if (!everyone && uids.isEmpty() && gids.isEmpty()) {
      throw new ConfigException(file, m.location(), field,
          "rule \"" + name + "\" applies to no one: list \"users\" or \"groups\" (\"*\" in users means every caller)");
    }
    List<PathPattern> allow = patterns(m.entries().get("allow"), field + ".allow");
    List<PathPattern> deny = patterns(m.entries().get("deny"), field + ".deny");
    if (allow.isEmpty() && deny.isEmpty()) {
      throw new ConfigException(file, m.location(), field,
          "rule \"" + name + "\" has no \"allow\" or \"deny\" patterns");
    }
    return new Rule(index, name, m.location(), everyone, toArray(uids), toArray(gids), allow, deny);
  }

  /** A uid or gid: a number, a string of digits, or a name looked up in the user database. */
  private long id(ScalarNode s, String field, boolean user) throws ConfigException {
    String what = user ? "user" : "group";
    String text = s.text();
    if (s.kind() == Kind.INTEGER || (s.kind() == Kind.STRING && !text.isEmpty() && text.chars().allMatch(Character::isDigit))) {
      try {
        long v = Long.parseLong(text);
        if (v >= 0 && v <= MAX_ID) {
          return v;
        }
      } catch (NumberFormatException e) {
        // too many digits: out of range below
      }
      throw new ConfigException(file, s.location(), field, what + " id " + text + " is out of range (0-" + MAX_ID + ")");
    }
    if (s.kind() != Kind.STRING || text.isEmpty()) {
      throw mismatch(s, field, "a " + what + " name or numeric id");
    }
    try {
      Optional<Long> found = user
          ? Posix.userByName(text).map(Posix.PasswdEntry::uid)
          : Posix.groupByName(text).map(Posix.GroupEntry::gid);
      return found.orElseThrow(() -> new ConfigException(file, s.location(), field,
          "unknown " + what + " \"" + text + "\""));
    } catch (PosixException e) {
      throw new ConfigException(file, s.location(), field,
          "could not look up " + what + " \"" + text + "\": " + e.getMessage());
    }
  }

  private List<PathPattern> patterns(Entry entry, String field) throws ConfigException {
    if (entry == null) {
      return List.of();
    }
    List<ConfigNode> items = list(entry.value(), field, "a list of path patterns").items();
    List<PathPattern> out = new ArrayList<>(items.size());
    for (int i = 0; i < items.size(); i++) {
      String f = field + "[" + i + "]";
      ConfigNode item = items.get(i);
      try {
        out.add(PathPattern.compile(string(item, f, "a path pattern")));
      } catch (IllegalArgumentException e) {
        throw new ConfigException(file, item.location(), f, e.getMessage());
      }
    }
    return List.copyOf(out);
  }

  private Limits limits(ConfigNode node) throws ConfigException {
    MapNode m = map(node, "limits", "a mapping of limits, such as {max_connections: 1024}");
    checkKeys(m, "limits", LIMIT_KEYS);
    Limits d = Limits.DEFAULTS;
    int maxPaths = integer(m, "max_paths_per_request", 1, ProtocolLimits.MAX_PATHS_PER_REQUEST, d.maxPathsPerRequest());
    int inFlight = integer(m, "max_descriptors_in_flight", 1, 1_000_000, d.maxDescriptorsInFlight());
    int inFlightPerUid = integer(m, "max_descriptors_in_flight_per_uid", 1, 1_000_000,
        Math.min(inFlight, d.maxDescriptorsInFlightPerUid()));
    // A uid must be able to take one whole reply, and no uid more than all of them together.
    if (inFlightPerUid < maxPaths) {
      throw outOfLine(m, "max_descriptors_in_flight_per_uid", "must be at least max_paths_per_request (" + maxPaths
          + "), or a request for that many files could never be answered");
    }
    if (inFlightPerUid > inFlight) {
      throw outOfLine(m, "max_descriptors_in_flight_per_uid", "must be at most max_descriptors_in_flight ("
          + inFlight + ")");
    }
    return new Limits(
        integer(m, "max_connections", 1, 1_000_000, d.maxConnections()),
        integer(m, "max_connections_per_uid", 1, 1_000_000, d.maxConnectionsPerUid()),
        integer(m, "requests_per_second_per_uid", 1, 100_000_000, d.requestsPerSecondPerUid()),
        maxPaths,
        seconds(m, "idle_timeout_seconds", 86_400, d.idleTimeout()),
        seconds(m, "request_timeout_seconds", 3_600, d.requestTimeout()),
        inFlight,
        inFlightPerUid);
  }

  /** A limit that does not fit the others: the error points at it, or at limits: if it is a default. */
  private ConfigException outOfLine(MapNode m, String key, String problem) {
    Entry e = m.entries().get(key);
    return new ConfigException(file, e != null ? e.value().location() : m.location(), "limits." + key, problem);
  }

  private int integer(MapNode m, String key, int min, int max, int dflt) throws ConfigException {
    Entry e = m.entries().get(key);
    if (e == null) {
      return dflt;
    }
    String field = "limits." + key;
    String expected = "a whole number from " + min + " to " + max;
    ScalarNode s = scalar(e.value(), field, expected);
    if (s.kind() == Kind.INTEGER) {
      try {
        long v = Long.parseLong(s.text());
        if (v >= min && v <= max) {
          return (int) v;
        }
      } catch (NumberFormatException ignored) {
        // out of range below
      }
    }
    throw mismatch(s, field, expected);
  }

  private Duration seconds(MapNode m, String key, int maxSeconds, Duration dflt) throws ConfigException {
    Entry e = m.entries().get(key);
    if (e == null) {
      return dflt;
    }
    String field = "limits." + key;
    String expected = "a number of seconds from 0.001 to " + maxSeconds;
    ScalarNode s = scalar(e.value(), field, expected);
    if (s.kind() == Kind.INTEGER || s.kind() == Kind.DECIMAL) {
      BigDecimal v = new BigDecimal(s.text());
      if (v.compareTo(new BigDecimal("0.001")) >= 0 && v.compareTo(BigDecimal.valueOf(maxSeconds)) <= 0) {
        return Duration.ofNanos(v.movePointRight(9).longValue());
      }
    }
    throw mismatch(s, field, expected);
  }

  private void checkKeys(MapNode m, String field, Set<String> allowed) throws ConfigException {
    for (Entry e : m.entries().values()) {
      if (!allowed.contains(e.key())) {
        throw new ConfigException(file, e.keyLocation(), field.isEmpty() ? e.key() : field + "." + e.key(),
            "unknown key (expected " + String.join(", ", new TreeSet<>(allowed)) + ")");
      }
    }
  }

  // The helpers below take what the field should hold, in words an operator would use ("a list
  // of rules"): the message then says what was expected as well as what was found.

  private MapNode map(ConfigNode node, String field, String expected) throws ConfigException {
    if (node instanceof MapNode m) {
      return m;
    }
    throw mismatch(node, field, expected);
  }

  private ListNode list(ConfigNode node, String field, String expected) throws ConfigException {
    if (node instanceof ListNode l) {
      return l;
    }
    throw mismatch(node, field, expected);
  }

  private ScalarNode scalar(ConfigNode node, String field, String expected) throws ConfigException {
    if (node instanceof ScalarNode s) {
      return s;
    }
    throw mismatch(node, field, expected);
  }

  private String string(ConfigNode node, String field, String expected) throws ConfigException {
    if (node instanceof ScalarNode s && s.kind() == Kind.STRING) {
      return s.text();
    }
    throw mismatch(node, field, expected);
  }

  /** "expected a list of rules, found no value". */
  private ConfigException mismatch(ConfigNode node, String field, String expected) {
    return new ConfigException(file, node.location(), field, "expected " + expected + ", found " + ConfigNode.describe(node));
  }

  private static long[] toArray(TreeSet<Long> ids) {
    return ids.stream().mapToLong(Long::longValue).toArray();
  }
}
