package dev.fdbroker.broker.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fdbroker.protocol.PathSyntax;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.Tuple;

/**
 * Properties of {@link Policy#decide} over random policies, callers and paths. Policies are written
 * as YAML and loaded with {@link Policy#load}, exactly as the broker reads them. Patterns and paths
 * draw their components from a tiny alphabet, and uids and gids from a handful of numbers, so
 * patterns overlap, rules collide and rules that do not apply are common.
 *
 * <p>The expectations are computed with a model of the rules ({@link RuleSpec}) and with {@link
 * PathPattern#matches}, the backtracking reference, never with the trie the policy uses.
 */
class PolicyPropertyTest {

  private static final int TRIES = 1000;

  /** A rule as written in the YAML. */
  record RuleSpec(String name, boolean everyone, Set<Long> uids, Set<Long> gids, List<String> allow,
      List<String> deny) {

    boolean appliesTo(Caller c) {
      return everyone || uids.contains(c.uid()) || gids.contains(c.gid());
    }

    RuleSpec named(String newName) {
      return new RuleSpec(newName, everyone, uids, gids, allow, deny);
    }

    String yaml() {
      List<String> users = new ArrayList<>();
      if (everyone) {
        users.add("\"*\"");
      }
      uids.forEach(u -> users.add(Long.toString(u)));
      return "  - name: " + name + "\n"
          + (users.isEmpty() ? "" : "    users: [" + String.join(", ", users) + "]\n")
          + (gids.isEmpty() ? "" : "    groups: [" + gids.stream().map(String::valueOf).collect(Collectors.joining(", ")) + "]\n")
          + (allow.isEmpty() ? "" : "    allow: [" + quoted(allow) + "]\n")
          + (deny.isEmpty() ? "" : "    deny: [" + quoted(deny) + "]\n");
    }

    private static String quoted(List<String> patterns) {
      return patterns.stream().map(p -> "\"" + p + "\"").collect(Collectors.joining(", "));
    }
  }

  /** One random case: the rules in file order, who asks, and for what. */
  record Scenario(List<RuleSpec> rules, Caller caller, String path) {
    String yaml() {
      return rules.isEmpty() ? "rules: []\n"
          : "rules:\n" + rules.stream().map(RuleSpec::yaml).collect(Collectors.joining());
    }

    List<RuleSpec> applicable() {
      return rules.stream().filter(r -> r.appliesTo(caller)).toList();
    }
  }

  // --- properties -----------------------------------------------------------------------------

  @Property(tries = TRIES, shrinking = ShrinkingMode.FULL)
  void aPathNoApplicableAllowPatternMatchesIsNeverAllowed(@ForAll("scenarios") Scenario s) {
    boolean someAllowMatches = s.applicable().stream()
        .anyMatch(r -> r.allow().stream().anyMatch(p -> matches(p, s.path())));
    Decision d = decide(s);
    if (!someAllowMatches) {
      assertFalse(d.allowed(), () -> d + "\n" + s.yaml());
    }
  }

  @Property(tries = TRIES, shrinking = ShrinkingMode.FULL)
  void anApplicableMatchingDenyWins(@ForAll("scenarios") Scenario s) {
    boolean someDenyMatches = s.applicable().stream()
        .anyMatch(r -> r.deny().stream().anyMatch(p -> matches(p, s.path())));
    Decision d = decide(s);
    if (someDenyMatches) {
      assertInstanceOf(Decision.Denied.class, d, () -> s.yaml());
    } else {
      assertFalse(d instanceof Decision.Denied, () -> d + " without an applicable matching deny\n" + s.yaml());
    }
  }

  @Property(tries = TRIES, shrinking = ShrinkingMode.FULL)
  void anAllowNamesAnApplicableRuleAndAMatchingPatternOfIt(@ForAll("scenarios") Scenario s) {
    if (decide(s) instanceof Decision.Allowed a) {
      assertTrue(a.rule().appliesTo(s.caller()), () -> a.rule() + " does not apply\n" + s.yaml());
      assertTrue(a.pattern().matches(s.path()), () -> a.pattern() + " does not match\n" + s.yaml());
      assertTrue(a.rule().allow().contains(a.pattern()), () -> a.pattern() + " is not an allow pattern of " + a.rule());
      RuleSpec spec = s.rules().get(a.rule().index());
      assertEquals(spec.name(), a.rule().name());
      assertTrue(spec.appliesTo(s.caller()), () -> "the model says " + a.rule() + " does not apply\n" + s.yaml());
    }
  }

  @Property(tries = TRIES, shrinking = ShrinkingMode.FULL)
  void rulesThatDoNotApplyChangeNothing(@ForAll("scenarios") Scenario s) {
    List<RuleSpec> kept = new ArrayList<>();
    for (RuleSpec r : s.applicable()) {
      kept.add(r.named("kept" + kept.size()));
    }
    Decision full = decide(s);
    Decision reduced = decide(new Scenario(kept, s.caller(), s.path()));
    assertEquals(full.allowed(), reduced.allowed(), () -> full + " vs " + reduced + "\n" + s.yaml());
    assertEquals(full.getClass(), reduced.getClass());
    assertEquals(patternOf(full), patternOf(reduced));
  }

  /** The whole decision, rule and pattern included, against a direct reading of the docs. */
  @Property(tries = TRIES, shrinking = ShrinkingMode.FULL)
  void decisionIsTheModelsDecision(@ForAll("scenarios") Scenario s) {
    Decision d = decide(s);
    for (RuleSpec r : s.applicable()) {
      for (String p : r.deny()) {
        if (matches(p, s.path())) {
          Decision.Denied denied = assertInstanceOf(Decision.Denied.class, d, s::yaml);
          assertEquals(r.name(), denied.rule().name(), s::yaml);
          assertEquals(p, denied.pattern().text(), s::yaml);
          return;
        }
      }
    }
    for (RuleSpec r : s.applicable()) {
      for (String p : r.allow()) {
        if (matches(p, s.path())) {
          Decision.Allowed allowed = assertInstanceOf(Decision.Allowed.class, d, s::yaml);
          assertEquals(r.name(), allowed.rule().name(), s::yaml);
          assertEquals(p, allowed.pattern().text(), s::yaml);
          return;
        }
      }
    }
    assertInstanceOf(Decision.NoRuleAllows.class, d, s::yaml);
  }

  // --- generators -----------------------------------------------------------------------------

  @Provide
  Arbitrary<Scenario> scenarios() {
    Arbitrary<List<RuleSpec>> rules = rule().list().ofMaxSize(5).map(list -> {
      List<RuleSpec> named = new ArrayList<>();
      for (RuleSpec r : list) {
        named.add(r.named("r" + named.size()));
      }
      return named;
    });
    Arbitrary<Caller> callers = Combinators.combine(
        Arbitraries.of(1000L, 1001L, 1002L, 1003L),
        Arbitraries.of(100L, 101L, 102L))
        .as((uid, gid) -> new Caller(uid, gid, 4242));
    return Combinators.combine(rules, callers, path()).as(Scenario::new);
  }

  private static Arbitrary<RuleSpec> rule() {
    Arbitrary<Boolean> everyone = Arbitraries.frequency(Tuple.of(1, true), Tuple.of(6, false));
    Arbitrary<Set<Long>> uids = Arbitraries.of(1000L, 1001L, 1002L).set().ofMaxSize(2);
    Arbitrary<Set<Long>> gids = Arbitraries.of(100L, 101L).set().ofMaxSize(1);
    Arbitrary<List<String>> allow = pattern().list().ofMaxSize(3);
    Arbitrary<List<String>> deny = pattern().list().ofMaxSize(2);
    return Combinators.combine(everyone, uids, gids, allow, deny)
        .as((e, u, g, a, d) -> new RuleSpec("unnamed", e, u, g, a, d))
        // A rule must name someone and some pattern, or the policy does not load.
        .filter(r -> (r.everyone() || !r.uids().isEmpty() || !r.gids().isEmpty())
            && !(r.allow().isEmpty() && r.deny().isEmpty()));
  }

  private static Arbitrary<String> pattern() {
    Arbitrary<String> component = Arbitraries.of("a", "b", "ab", "*", "a*", "**");
    return Arbitraries.oneOf(
        component.list().ofMinSize(1).ofMaxSize(4).map(cs -> "/" + String.join("/", cs)),
        Arbitraries.just("/"));
  }

  private static Arbitrary<String> path() {
    Arbitrary<String> component = Arbitraries.of("a", "b", "ab", "ba", "aa", "a*");
    return component.list().ofMaxSize(5).map(cs -> "/" + String.join("/", cs));
  }

  // --- helpers --------------------------------------------------------------------------------

  private static boolean matches(String pattern, String path) {
    return PathPattern.compile(pattern).matches(path);
  }

  private static String patternOf(Decision d) {
    return switch (d) {
      case Decision.Allowed a -> a.pattern().text();
      case Decision.Denied dn -> dn.pattern().text();
      case Decision.Traversable t -> t.pattern().text();
      case Decision.NoRuleAllows n -> null;
    };
  }

  private static Decision decide(Scenario s) {
    assertNull(PathSyntax.problem(s.path()), s.path());
    return load(s.yaml()).decide(s.caller(), s.path());
  }

  private static Policy load(String yaml) {
    try {
      Path file = Files.createTempFile("policy-property-", ".yaml");
      try {
        Files.writeString(file, yaml);
        return Policy.load(file);
      } finally {
        Files.delete(file);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (ConfigException e) {
      throw new AssertionError("generated policy does not load: " + e.getMessage() + "\n" + yaml, e);
    }
  }
}
