package dev.fdbroker.broker.policy;

import dev.fdbroker.broker.policy.ConfigNode.Entry;
import dev.fdbroker.broker.policy.ConfigNode.Kind;
import dev.fdbroker.broker.policy.ConfigNode.ListNode;
import dev.fdbroker.broker.policy.ConfigNode.MapNode;
import dev.fdbroker.broker.policy.ConfigNode.ScalarNode;
import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.broker.posix.PosixException;
import dev.fdbroker.protocol.ProtocolLimits;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Turns a policy file, and the drop-ins it includes, into a {@link Policy}; or finds every problem
 * in them, each with its file, line, column and field, and the warnings ({@link PolicyLint}). User
 * and group names are resolved here, once, through the system's user database; the running broker
 * only compares numbers.
 */
final class PolicyCompiler {
  private static final Set<String> TOP_KEYS = Set.of("rules", "limits", "metrics", "audit", "include");
  private static final Set<String> DROP_IN_KEYS = Set.of("rules");
  private static final Set<String> METRICS_KEYS = Set.of("listen");
  private static final Set<String> AUDIT_KEYS = Set.of("output");
  private static final Set<String> RULE_KEYS = Set.of("name", "users", "groups", "units", "owner", "allow", "deny");
  private static final Set<String> LIMIT_KEYS = Set.of("max_connections", "max_connections_per_uid",
      "requests_per_second_per_uid", "max_paths_per_request", "idle_timeout_seconds", "request_timeout_seconds",
      "max_descriptors_in_flight", "max_descriptors_in_flight_per_uid");
  /** Rule names appear in logs and metric labels: keep them short and plain. */
  private static final Pattern RULE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
  private static final Pattern UID_RANGE = Pattern.compile("([0-9]{1,10})-([0-9]{1,10})");
  private static final long MAX_ID = 0xfffffffeL; // (uid_t) -1 means "no user"
  private static final String AUDIT_OUTPUT = "\"stderr\" or an absolute file path";
  /** More drop-ins than this is a mistake (a wrong directory), not a policy. */
  private static final int MAX_DROP_INS = 10_000;

  /** Where a rule was named, for an error about the same name twice. */
  private record Named(String file, Location location) {}

  private final List<ConfigException> errors = new ArrayList<>();
  private final List<ConfigWarning> warnings = new ArrayList<>();
  private final List<Rule> rules = new ArrayList<>();
  private final Map<String, Named> names = new HashMap<>();
  /** The file being compiled: the policy's, then each drop-in's. */
  private String file;

  /** Reads and compiles the policy at {@code path}, named {@code displayName} in messages. */
  PolicyCheck compile(Path path, String displayName) {
    file = displayName;
    ConfigNode root;
    try {
      root = ConfigReader.read(path, displayName);
    } catch (ConfigException e) {
      errors.add(e);
      return result(null);
    }
    return compile(root, path);
  }

  /** Compiles a policy read already; {@code path} locates a relative {@code include}. */
  PolicyCheck compile(ConfigNode root, Path path) {
    String mainFile = file;
    MapNode top;
    try {
      top = map(root, "", "a mapping with \"rules\"");
    } catch (ConfigException e) {
      errors.add(e);
      return result(null);
    }
    checkKeys(top, "", TOP_KEYS);
    Entry rulesEntry = top.entries().get("rules");
    if (rulesEntry == null) {
      errors.add(new ConfigException(file, root.location(), "",
          "missing \"rules\" (write \"rules: []\" for a policy that denies everything)"));
    } else {
      rules(rulesEntry);
    }
    Limits limits = Limits.DEFAULTS;
    Entry limitsEntry = top.entries().get("limits");
    if (limitsEntry != null) {
      try {
        limits = limits(limitsEntry.value());
      } catch (ConfigException e) {
        errors.add(e);
      }
    }
    Observability observability = null;
    try {
      observability = observability(top);
    } catch (ConfigException e) {
      errors.add(e);
    }
    Entry include = top.entries().get("include");
    if (include != null) {
      include(include, path);
    }
    file = mainFile;
    return result(errors.isEmpty() ? new Policy(mainFile, rules, limits, observability, warnings) : null);
  }

  private PolicyCheck result(Policy policy) {
    return new PolicyCheck(policy, errors, warnings);
  }

  /** The rules of the file being compiled, appended to those before. */
  private void rules(Entry rulesEntry) {
    ListNode ruleList;
    try {
      ruleList = list(rulesEntry.value(), "rules", "a list of rules");
    } catch (ConfigException e) {
      errors.add(e);
      return;
    }
    for (int i = 0; i < ruleList.items().size(); i++) {
      ConfigNode node = ruleList.items().get(i);
      Rule rule = rule(node, "rules[" + i + "]", rules.size());
      if (rule != null) {
        rules.add(rule);
      }
    }
  }

  /**
   * The drop-ins: every {@code *.yaml}, {@code *.yml} and {@code *.json} in the directory (names
   * starting with a dot are an editor's or a package manager's, and skipped), in name order, each
   * holding {@code rules} only.
   */
  private void include(Entry include, Path policyPath) {
    String text;
    try {
      text = string(include.value(), "include", "a directory of drop-in policy files");
    } catch (ConfigException e) {
      errors.add(e);
      return;
    }
    Location at = include.value().location();
    Path dir = Path.of(text);
    if (!dir.isAbsolute()) {
      Path parent = policyPath == null ? null : policyPath.toAbsolutePath().getParent();
      dir = parent == null ? dir.toAbsolutePath() : parent.resolve(dir);
    }
    if (!Files.exists(dir)) {
      warnings.add(new ConfigWarning(file, at, "include", dir + " does not exist: no drop-ins are read from it"));
      return;
    }
    if (!Files.isDirectory(dir)) {
      errors.add(new ConfigException(file, at, "include", dir + " is not a directory"));
      return;
    }
    List<Path> dropIns;
    try (Stream<Path> listing = Files.list(dir)) {
      dropIns = listing.filter(PolicyCompiler::isDropInName)
          .sorted(Comparator.comparing(p -> p.getFileName().toString()))
          .limit(MAX_DROP_INS + 1)
          .toList();
    } catch (IOException | UncheckedIOException e) {
      errors.add(new ConfigException(file, at, "include", "cannot list " + dir + ": " + e.getMessage()));
      return;
    }
    if (dropIns.size() > MAX_DROP_INS) {
      errors.add(new ConfigException(file, at, "include", dir + " holds more than " + MAX_DROP_INS + " drop-ins"));
      return;
    }
    for (Path dropIn : dropIns) {
      file = dropIn.toString();
      try {
        MapNode top = map(ConfigReader.read(dropIn, file), "", "a mapping with \"rules\"");
        checkKeys(top, "", DROP_IN_KEYS, " (a drop-in holds rules only; limits, metrics and audit belong in the main "
            + "policy file)");
        Entry rulesEntry = top.entries().get("rules");
        if (rulesEntry == null) {
          errors.add(new ConfigException(file, top.location(), "", "missing \"rules\""));
        } else {
          rules(rulesEntry);
        }
      } catch (ConfigException e) {
        errors.add(e);
      }
    }
  }

  private static boolean isDropInName(Path p) {
    String name = p.getFileName().toString();
    return !name.startsWith(".") && (name.endsWith(".yaml") || name.endsWith(".yml") || name.endsWith(".json"));
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

  /** One rule, or null if it has errors (each added to the list; the rest of it is still checked). */
  private Rule rule(ConfigNode node, String field, int index) {
    MapNode m;
    try {
      m = map(node, field, "a rule (a mapping with name, users, groups or units, and allow or deny)");
    } catch (ConfigException e) {
      errors.add(e);
      return null;
    }
    int errorsBefore = errors.size();
    checkKeys(m, field, RULE_KEYS);
    String name = null;
    Entry nameEntry = m.entries().get("name");
    try {
      if (nameEntry == null) {
        throw new ConfigException(file, m.location(), field, "a rule needs a \"name\"");
      }
      name = string(nameEntry.value(), field + ".name", "a rule name");
      if (!RULE_NAME.matcher(name).matches()) {
        throw new ConfigException(file, nameEntry.value().location(), field + ".name",
            "rule names are 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");
      }
      Named here = new Named(file, nameEntry.value().location());
      Named earlier = names.putIfAbsent(name, here);
      if (earlier != null) {
        throw new ConfigException(file, here.location(), field + ".name", "duplicate rule name \"" + name
            + "\" (first at " + (earlier.file().equals(file) ? "line " + earlier.location().line()
                : earlier.file() + ":" + earlier.location()) + ")");
      }
    } catch (ConfigException e) {
      errors.add(e);
    }
    boolean everyone = false;
    TreeSet<Long> uids = new TreeSet<>();
    List<Long> ranges = new ArrayList<>();
    for (Item item : items(m, field, "users", "a list of user names, uids or uid ranges")) {
      try {
        ScalarNode s = scalar(item.node(), item.field(), "a user name, uid or uid range");
        java.util.regex.Matcher range = UID_RANGE.matcher(s.text());
        if (s.kind() == Kind.STRING && s.text().equals("*")) {
          everyone = true;
        } else if (s.kind() == Kind.STRING && range.matches()) {
          long first = rangeEnd(s, item.field(), range.group(1));
          long last = rangeEnd(s, item.field(), range.group(2));
          if (first > last) {
            throw new ConfigException(file, s.location(), item.field(), "range " + s.text() + " is empty: "
                + "write the lower uid first");
          }
          ranges.add(first);
          ranges.add(last);
        } else {
          uids.add(id(s, item.field(), true));
        }
      } catch (ConfigException e) {
        errors.add(e);
      }
    }
    TreeSet<Long> gids = new TreeSet<>();
    for (Item item : items(m, field, "groups", "a list of group names or gids")) {
      try {
        gids.add(id(scalar(item.node(), item.field(), "a group name or numeric id"), item.field(), false));
      } catch (ConfigException e) {
        errors.add(e);
      }
    }
    List<UnitPattern> units = new ArrayList<>();
    for (Item item : items(m, field, "units", "a list of systemd unit names")) {
      try {
        units.add(UnitPattern.compile(string(item.node(), item.field(), "a unit name such as worker@*.service")));
      } catch (IllegalArgumentException e) {
        errors.add(new ConfigException(file, item.node().location(), item.field(), e.getMessage()));
      } catch (ConfigException e) {
        errors.add(e);
      }
    }
    boolean ownerIsCaller = false;
    Entry owner = m.entries().get("owner");
    if (owner != null) {
      try {
        String o = string(owner.value(), field + ".owner", "\"caller\"");
        if (!o.equals("caller")) {
          throw new ConfigException(file, owner.value().location(), field + ".owner",
              "expected \"caller\" (a file is granted only if the caller owns it), found \"" + o + "\"");
        }
        ownerIsCaller = true;
      } catch (ConfigException e) {
        errors.add(e);
      }
    }
    if (!everyone && uids.isEmpty() && ranges.isEmpty() && gids.isEmpty() && units.isEmpty()
        && errors.size() == errorsBefore) {
      errors.add(new ConfigException(file, m.location(), field, "rule \"" + name + "\" applies to no one: list "
          + "\"users\", \"groups\" or \"units\" (\"*\" in users means every caller)"));
    }
    List<PathPattern> allow = patterns(m, field, "allow", everyone, units);
    List<PathPattern> deny = patterns(m, field, "deny", everyone, units);
    if (allow.isEmpty() && deny.isEmpty() && errors.size() == errorsBefore) {
      errors.add(new ConfigException(file, m.location(), field,
          "rule \"" + name + "\" has no \"allow\" or \"deny\" patterns"));
    }
    if (errors.size() > errorsBefore) {
      return null;
    }
    long[] rangeArray = ranges.stream().mapToLong(Long::longValue).toArray();
    return new Rule(index, name, file, m.location(), everyone, toArray(uids), rangeArray, toArray(gids), units,
        ownerIsCaller, allow, deny);
  }

  private long rangeEnd(ScalarNode s, String field, String digits) throws ConfigException {
    long v = Long.parseLong(digits);
    if (v > MAX_ID) {
      throw new ConfigException(file, s.location(), field, "uid " + digits + " is out of range (0-" + MAX_ID + ")");
    }
    return v;
  }

  /** One item of a list in a rule, and its field name ({@code rules[0].users[1]}). */
  private record Item(ConfigNode node, String field) {}

  /** The items of a rule's list {@code key}; none if it is missing or not a list (an error then). */
  private List<Item> items(MapNode m, String field, String key, String expected) {
    Entry entry = m.entries().get(key);
    if (entry == null) {
      return List.of();
    }
    String f = field + "." + key;
    try {
      List<ConfigNode> nodes = list(entry.value(), f, expected).items();
      List<Item> out = new ArrayList<>(nodes.size());
      for (int i = 0; i < nodes.size(); i++) {
        out.add(new Item(nodes.get(i), f + "[" + i + "]"));
      }
      return out;
    } catch (ConfigException e) {
      errors.add(e);
      return List.of();
    }
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
      // Worded as the field's own expectation (a users entry may also be a uid range).
      throw mismatch(s, field, user ? "a user name, uid or uid range" : "a group name or numeric id");
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

  private List<PathPattern> patterns(MapNode m, String field, String key, boolean everyone,
      List<UnitPattern> units) {
    List<PathPattern> out = new ArrayList<>();
    for (Item item : items(m, field, key, "a list of path patterns")) {
      try {
        PathPattern p = PathPattern.compile(string(item.node(), item.field(), "a path pattern"));
        out.add(p);
        for (String w : PolicyLint.pattern(p, key.equals("allow"), everyone, units)) {
          warnings.add(new ConfigWarning(file, item.node().location(), item.field(), w));
        }
      } catch (IllegalArgumentException e) {
        errors.add(new ConfigException(file, item.node().location(), item.field(), e.getMessage()));
      } catch (ConfigException e) {
        errors.add(e);
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
      errors.add(outOfLine(m, "max_descriptors_in_flight_per_uid", "must be at least max_paths_per_request (" + maxPaths
          + "), or a request for that many files could never be answered"));
    }
    if (inFlightPerUid > inFlight) {
      errors.add(outOfLine(m, "max_descriptors_in_flight_per_uid", "must be at most max_descriptors_in_flight ("
          + inFlight + ")"));
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

  /** A whole number; on an error, added to the list, the default. */
  private int integer(MapNode m, String key, int min, int max, int dflt) {
    try {
      return integerOrThrow(m, key, min, max, dflt);
    } catch (ConfigException e) {
      errors.add(e);
      return dflt;
    }
  }

  private int integerOrThrow(MapNode m, String key, int min, int max, int dflt) throws ConfigException {
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

  /** A number of seconds; on an error, added to the list, the default. */
  private Duration seconds(MapNode m, String key, int maxSeconds, Duration dflt) {
    try {
      return secondsOrThrow(m, key, maxSeconds, dflt);
    } catch (ConfigException e) {
      errors.add(e);
      return dflt;
    }
  }

  private Duration secondsOrThrow(MapNode m, String key, int maxSeconds, Duration dflt) throws ConfigException {
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

  /** Adds an error for each key not {@code allowed}. */
  private void checkKeys(MapNode m, String field, Set<String> allowed) {
    checkKeys(m, field, allowed, "");
  }

  private void checkKeys(MapNode m, String field, Set<String> allowed, String why) {
    for (Entry e : m.entries().values()) {
      if (!allowed.contains(e.key())) {
        errors.add(new ConfigException(file, e.keyLocation(), field.isEmpty() ? e.key() : field + "." + e.key(),
            "unknown key (expected " + String.join(", ", new TreeSet<>(allowed)) + ")" + why));
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
