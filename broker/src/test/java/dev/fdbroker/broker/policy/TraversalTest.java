package dev.fdbroker.broker.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What stat and list may see on the way to allowed files: {@link Policy#beneath} and {@link Policy#decideToSee}. */
class TraversalTest {
  @TempDir
  Path dir;

  private static final Caller ALICE = new Caller(1000, 1000, 1, new long[0], "alice", null);
  private static final Caller BOB = new Caller(1001, 1001, 1, new long[0], "bob", null);

  Policy load(String yaml) throws Exception {
    return Policy.load(Files.writeString(dir.resolve("policy.yaml"), yaml));
  }

  @Test
  void directoriesOnTheWayToAnAllowAreTraversableAndDenyStillWins() throws Exception {
    Policy p = load("""
        rules:
          - name: first
            users: [1000]
            allow: ["/srv/*/to/data.txt", "/srv/pub/**"]
            deny: ["/srv/secret/**", "/srv/pub/private/**"]
          - name: homes
            users: [1000, 1001]
            owner: caller
            allow: ["/home/${user}/**"]
        """);
    assertInstanceOf(Decision.Traversable.class, p.decideToSee(ALICE, "/"));
    assertInstanceOf(Decision.Traversable.class, p.decideToSee(ALICE, "/srv"));
    assertInstanceOf(Decision.Traversable.class, p.decideToSee(ALICE, "/srv/x"));
    assertInstanceOf(Decision.Traversable.class, p.decideToSee(ALICE, "/srv/x/to"));
    assertInstanceOf(Decision.Allowed.class, p.decideToSee(ALICE, "/srv/x/to/data.txt"));
    assertInstanceOf(Decision.NoRuleAllows.class, p.decideToSee(ALICE, "/srv/x/to/other"));
    assertInstanceOf(Decision.NoRuleAllows.class, p.decideToSee(ALICE, "/srv/x/y"));
    assertInstanceOf(Decision.Allowed.class, p.decideToSee(ALICE, "/srv/pub"), "** matches pub itself");
    assertInstanceOf(Decision.Denied.class, p.decideToSee(ALICE, "/srv/secret"), "a deny on the way wins");
    assertInstanceOf(Decision.Denied.class, p.decideToSee(ALICE, "/srv/pub/private"));
    assertInstanceOf(Decision.NoRuleAllows.class, p.decideToSee(BOB, "/srv"), "first does not apply to bob");
    assertEquals("first", p.decideToSee(ALICE, "/").ruleName(), "the first rule in policy order");
    assertEquals("homes", p.decideToSee(BOB, "/").ruleName());
    assertInstanceOf(Decision.Traversable.class, p.decideToSee(BOB, "/home"));
    assertInstanceOf(Decision.Allowed.class, p.decideToSee(BOB, "/home/bob"));
    assertInstanceOf(Decision.NoRuleAllows.class, p.decideToSee(BOB, "/home/alice"), "${user} is bob's own name only");
    assertInstanceOf(Decision.NoRuleAllows.class, p.decide(ALICE, "/srv"), "open never passes through");
  }

  @Test
  void aCallerOfUnknownUnitPassesThroughNoUnitDependentAllow() throws Exception {
    Policy p = load("""
        rules:
          - name: by-unit
            users: [1000]
            allow: ["/srv/units/${unit}/**"]
          - name: plain
            users: [1000]
            allow: ["/opt/app/**"]
        """);
    Caller unknown = new Caller(1000, 1000, 1, new long[0], "alice", null, true);
    Caller known = new Caller(1000, 1000, 1, new long[0], "alice", "a.service", false);
    assertNull(p.beneath(unknown, "/srv/units"));
    assertInstanceOf(Decision.Traversable.class, p.decideToSee(known, "/srv/units"));
    assertInstanceOf(Decision.Traversable.class, p.decideToSee(unknown, "/opt"));
  }

  /** A pattern whose variable the caller has no value for matches nothing: it is no way down either. */
  @Test
  void aPatternWhoseVariableTheCallerLacksIsNoWayDown() throws Exception {
    Policy p = load("""
        rules:
          - name: homes
            users: ["100000-165535"]
            allow: ["/home/${user}/public/**"]
          - name: tenants
            users: ["100000-165535"]
            allow: ["/srv/tenants/${instance}/**"]
        """);
    Caller nameless = new Caller(100123, 100123, 1, new long[0], null, null);
    assertNull(p.beneath(nameless, "/home"), "/home/${user}/public/** can match nothing for a caller with no user name");
    assertNull(p.beneath(nameless, "/"), "nor can anything else in this policy");
    assertNull(p.beneath(nameless, "/srv/tenants"), "a caller in no unit has no ${instance}");
  }

  /**
   * Against the definition, by brute force over a small world: a path is traversable when no deny
   * matches it and an allow pattern of a rule that applies matches some path below it (up to three
   * components more, from an alphabet that covers every pattern's literals and globs). Whether a
   * deny covers all of that path below is not asked: the allow pattern could match, and that is
   * all a directory on the way reveals.
   */
  @Test
  void agreesWithSearchingBelowForAnAllowedPath() throws Exception {
    Random random = new Random(42);
    String[] parts = {"a", "b", "ab", "*", "a*", "**"};
    String[] names = {"a", "b", "ab", "c"};
    for (int round = 0; round < 300; round++) {
      StringBuilder yaml = new StringBuilder("rules:\n");
      List<PathPattern> alicesAllows = new ArrayList<>();
      for (int r = 0; r < 3; r++) {
        yaml.append("  - name: r").append(r).append("\n    users: [").append(r == 2 ? 1001 : 1000).append("]\n");
        String a1 = pattern(random, parts);
        String a2 = pattern(random, parts);
        if (r != 2) {
          alicesAllows.add(PathPattern.compile(a1.replace("\"", "")));
          alicesAllows.add(PathPattern.compile(a2.replace("\"", "")));
        }
        yaml.append("    allow: [").append(a1).append(", ").append(a2).append("]\n");
        if (random.nextBoolean()) {
          yaml.append("    deny: [").append(pattern(random, parts)).append("]\n");
        }
      }
      Policy p = load(yaml.toString());
      for (String path : paths(names, 3)) {
        boolean expected = false;
        if (!(p.decide(ALICE, path) instanceof Decision.Denied)) {
          for (String below : paths(names, 3)) {
            String full = path.equals("/") ? below : path + below;
            if (countComponents(full) <= countComponents(path) + 3
                && alicesAllows.stream().anyMatch(a -> a.matches(full))) {
              expected = true;
              break;
            }
          }
        }
        boolean actual = !(p.decide(ALICE, path) instanceof Decision.Denied) && p.beneath(ALICE, path) != null;
        assertEquals(expected, actual, yaml + "path " + path);
      }
    }
  }

  private static int countComponents(String path) {
    return path.equals("/") ? 0 : path.split("/").length - 1;
  }

  private static String pattern(Random random, String[] parts) {
    StringBuilder b = new StringBuilder("\"");
    int n = 1 + random.nextInt(3);
    for (int i = 0; i < n; i++) {
      String part = parts[random.nextInt(parts.length)];
      b.append('/').append(part);
      if (part.equals("**")) {
        break; // at most one, and last: keeps the brute force's three components enough
      }
    }
    return b.append('"').toString();
  }

  /** Every path of 1 to {@code depth} components over {@code names} ("/" excluded). */
  private static List<String> paths(String[] names, int depth) {
    List<String> out = new ArrayList<>();
    List<String> level = List.of("");
    for (int d = 0; d < depth; d++) {
      List<String> next = new ArrayList<>();
      for (String prefix : level) {
        for (String n : names) {
          next.add(prefix + "/" + n);
        }
      }
      out.addAll(next);
      level = next;
    }
    return out;
  }
}
