package dev.fdbroker.broker.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Who a rule applies to (groups, units, uid ranges), variables in patterns, and owner: caller. */
class CallerRulesTest {
  @TempDir
  Path dir;

  Policy load(String yaml) throws Exception {
    return Policy.load(Files.writeString(dir.resolve("policy.yaml"), yaml));
  }

  static Caller withGroups(long uid, long gid, long... groups) {
    return new Caller(uid, gid, 1, groups, null, null);
  }

  static Caller inUnit(long uid, String unit) {
    return new Caller(uid, uid, 1, new long[0], null, unit);
  }

  /**
   * A caller whose unit could not be learned (its connecting process was gone) could be in the unit
   * a deny names: a policy that names units refuses it everything; one that names none serves it.
   */
  @Test
  void aCallerWhoseUnitIsUnknownIsRefusedEverythingByAPolicyThatNamesUnits() throws Exception {
    Policy p = load("""
        rules:
          - name: everyone
            users: ["*"]
            allow: ["/srv/**"]
          - name: sandboxed
            units: [sandboxed-worker.service]
            deny: ["/srv/secret/**"]
        """);
    Caller unknown = new Caller(1001, 1001, 1, new long[0], null, null, true);
    assertTrue(unknown.unitUnknown());
    assertInstanceOf(Decision.NoRuleAllows.class, p.decide(unknown, "/srv/secret/key"));
    assertInstanceOf(Decision.NoRuleAllows.class, p.decide(unknown, "/srv/a"));
    assertFalse(p.decide(inUnit(1001, "sandboxed-worker.service"), "/srv/secret/key").allowed());
    assertTrue(p.decide(inUnit(1001, "sandboxed-worker.service"), "/srv/a").allowed());
    assertTrue(p.decide(withGroups(1001, 1001), "/srv/secret/key").allowed(), "a caller in no unit");
    Policy noUnits = load("rules:\n  - name: everyone\n    users: [\"*\"]\n    allow: [\"/srv/**\"]\n");
    assertTrue(noUnits.decide(unknown, "/srv/a").allowed());
    assertFalse(new Caller(1001, 1001, 1, new long[0], null, "x.service", true).unitUnknown(), "a unit is known");
  }

  @Test
  void aGroupRuleAppliesToSupplementaryMembersAndItsDenyBindsThem() throws Exception {
    Policy p = load("""
        rules:
          - name: staff
            groups: [50]
            allow: ["/srv/**"]
          - name: no-secrets-for-auditors
            groups: [60]
            deny: ["/srv/secret/**"]
        """);
    Caller member = withGroups(1001, 1001, 50);
    assertTrue(p.decide(member, "/srv/a").allowed(), "a supplementary member");
    assertTrue(p.decide(withGroups(1002, 50), "/srv/a").allowed(), "a primary member");
    assertFalse(p.decide(withGroups(1003, 1003, 51), "/srv/a").allowed(), "not a member");
    Caller auditor = withGroups(1001, 1001, 50, 60);
    assertTrue(p.decide(auditor, "/srv/a").allowed());
    Decision d = p.decide(auditor, "/srv/secret/key");
    assertInstanceOf(Decision.Denied.class, d, "a deny on a supplementary group binds");
    assertEquals("no-secrets-for-auditors", ((Decision.Denied) d).rule().name());
  }

  @Test
  void uidRangesAreInclusive() throws Exception {
    Policy p = load("""
        rules:
          - name: containers
            users: ["100000-165535", 7]
            allow: ["/srv/images/**"]
        """);
    for (long uid : new long[] {100000, 100001, 165535, 7}) {
      assertTrue(p.decide(new Caller(uid, uid, 1), "/srv/images/a").allowed(), "uid " + uid);
    }
    for (long uid : new long[] {99999, 165536, 0, 6}) {
      assertFalse(p.decide(new Caller(uid, uid, 1), "/srv/images/a").allowed(), "uid " + uid);
    }
  }

  @Test
  void unitsMatchByNameWithStarsAndACallerWithoutAUnitMatchesNone() throws Exception {
    Policy p = load("""
        rules:
          - name: tenants
            units: ["render-worker@*.service"]
            allow: ["/srv/tenants/${instance}/**", "/srv/shared/**"]
          - name: exact
            units: [backup.service]
            allow: ["/srv/backup/${unit}/**"]
        """);
    Caller t1 = inUnit(61234, "render-worker@tenant1.service");
    assertTrue(p.decide(t1, "/srv/tenants/tenant1/a.png").allowed());
    assertTrue(p.decide(t1, "/srv/tenants/tenant1").allowed());
    assertFalse(p.decide(t1, "/srv/tenants/tenant2/a.png").allowed(), "another tenant's tree");
    assertFalse(p.decide(t1, "/srv/tenants/tenant10/a.png").allowed(), "a prefix is not the value");
    assertFalse(p.decide(t1, "/srv/tenants/${instance}/a.png").allowed(), "the variable's text is not a value");
    assertTrue(p.decide(t1, "/srv/shared/x").allowed());
    assertFalse(p.decide(inUnit(61234, "render-worker.service"), "/srv/shared/x").allowed(), "not an instance");
    assertFalse(p.decide(inUnit(61234, "other@tenant1.service"), "/srv/tenants/tenant1/a").allowed());
    assertFalse(p.decide(new Caller(61234, 61234, 1), "/srv/shared/x").allowed(), "no unit, no unit rule");
    Caller backup = inUnit(0, "backup.service");
    assertTrue(p.decide(backup, "/srv/backup/backup.service/x").allowed());
    assertFalse(p.decide(backup, "/srv/backup/other.service/x").allowed());
    assertFalse(p.decide(inUnit(0, "xbackup.service"), "/srv/backup/xbackup.service/x").allowed());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", ".", "..", "a/b", "/"})
  void aValueThatIsNotOneComponentMatchesNothing(String instance) throws Exception {
    Policy p = load("""
        rules:
          - name: tenants
            units: ["w@*.service"]
            allow: ["/srv/t/${instance}/**", "/srv/t/x${instance}y"]
            deny: ["/srv/t/${instance}/deny/**"]
        """);
    Caller c = inUnit(5, "w@" + instance + ".service");
    assertNull(c.value(Variable.INSTANCE));
    for (String path : List.of("/srv/t/a", "/srv/t", "/srv/t/xy", "/srv/t/x.y", "/srv/t/x..y")) {
      assertFalse(p.decide(c, path).allowed(), instance + " " + path);
    }
  }

  @Test
  void userUidAndGidVariables() throws Exception {
    Policy p = load("""
        rules:
          - name: homes
            users: ["*"]
            allow: ["/home/${user}/public/**", "/var/spool/${uid}/*.job", "/srv/g-${gid}-${uid}.txt"]
            deny: ["/home/${user}/public/.ssh/**"]
        """);
    Caller alice = new Caller(1001, 100, 1, new long[0], "alice", null);
    assertTrue(p.decide(alice, "/home/alice/public/a.txt").allowed());
    assertFalse(p.decide(alice, "/home/bob/public/a.txt").allowed());
    assertFalse(p.decide(alice, "/home/alice/public/.ssh/id").allowed(), "a deny with a variable binds");
    assertTrue(p.decide(alice, "/var/spool/1001/x.job").allowed());
    assertFalse(p.decide(alice, "/var/spool/1002/x.job").allowed());
    assertTrue(p.decide(alice, "/srv/g-100-1001.txt").allowed());
    assertFalse(p.decide(alice, "/srv/g-100-1001.txtx").allowed());
    assertFalse(p.decide(alice, "/srv/g-1001-100.txt").allowed());
    Caller nameless = new Caller(4242, 4242, 1);
    assertFalse(p.decide(nameless, "/home/null/public/a").allowed(), "no user name: ${user} matches nothing");
    assertTrue(p.decide(nameless, "/var/spool/4242/x.job").allowed());
  }

  @Test
  void theCostOfAVariableRuleDoesNotGrowWithTenants() throws Exception {
    Policy p = load("""
        rules:
          - name: tenants
            units: ["render-worker@*.service"]
            allow: ["/srv/tenants/${instance}/**"]
        """);
    for (int i = 0; i < 10_000; i++) {
      Caller c = inUnit(1000 + i, "render-worker@tenant" + i + ".service");
      assertTrue(p.decide(c, "/srv/tenants/tenant" + i + "/x").allowed());
      assertFalse(p.decide(c, "/srv/tenants/tenant" + (i + 1) + "/x").allowed());
    }
    assertEquals(1, p.rules().size(), "one rule serves them all");
  }

  @Test
  void anOwnerRuleIsFlaggedAndAnyOtherAllowIsPreferred() throws Exception {
    Policy p = load("""
        rules:
          - name: homes
            users: ["*"]
            owner: caller
            allow: ["/home/**"]
          - name: shared
            users: [1001]
            allow: ["/home/shared/**"]
        """);
    Decision own = p.decide(new Caller(1002, 1002, 1), "/home/shared/x");
    assertTrue(((Decision.Allowed) own).rule().ownerIsCaller(), "only the owner rule allows it for 1002");
    Decision shared = p.decide(new Caller(1001, 1001, 1), "/home/shared/x");
    assertEquals("shared", ((Decision.Allowed) shared).rule().name(), "an allow without the condition wins");
    assertFalse(((Decision.Allowed) shared).rule().ownerIsCaller());
  }

  @Test
  void dropInsAddRulesInNameOrderAndReloadRereadsThem() throws Exception {
    Path d = Files.createDirectory(dir.resolve("policy.d"));
    Files.writeString(d.resolve("20-b.yaml"), "rules: [{name: b, users: [2], allow: [/b]}]\n");
    Files.writeString(d.resolve("10-a.json"), "{\"rules\": [{\"name\": \"a\", \"users\": [1], \"allow\": [\"/a\"]}]}\n");
    Files.writeString(d.resolve(".hidden.yaml"), "not: [valid");
    Files.writeString(d.resolve("notes.txt"), "ignored");
    Files.writeString(d.resolve("30-c.yaml.dpkg-old"), "ignored");
    Policy p = load("include: policy.d\nrules: [{name: main, users: [1], deny: [/a/x]}]\n");
    assertEquals(List.of("main", "a", "b"), p.rules().stream().map(Rule::name).toList());
    assertEquals(d.resolve("10-a.json").toString(), p.rules().get(1).file());
    assertTrue(p.decide(new Caller(2, 2, 1), "/b").allowed());
    Files.writeString(d.resolve("40-d.yaml"), "rules: [{name: d, users: [4], allow: [/d]}]\n");
    Policy again = Policy.load(dir.resolve("policy.yaml"));
    assertTrue(again.decide(new Caller(4, 4, 1), "/d").allowed(), "a reload reads the directory again");
  }

  @Test
  void aDropInsErrorNamesItsOwnFileAndADuplicateNameBothPlaces() throws Exception {
    Path d = Files.createDirectory(dir.resolve("policy.d"));
    Files.writeString(d.resolve("a.yaml"), "rules:\n  - name: shared\n    users: [1]\n    allow: [/a]\n");
    Files.writeString(d.resolve("b.yaml"), "rules:\n  - name: shared\n    users: [wroker-nobody-x]\n    allow: [/b]\n");
    Files.writeString(d.resolve("c.yaml"), "limits: {max_connections: 3}\nrules: []\n");
    Files.writeString(dir.resolve("policy.yaml"), "include: " + d + "\nrules:\n  - name: shared\n    users: [1]\n"
        + "    allow: [/m]\n");
    ConfigException e = assertThrows(ConfigException.class, () -> Policy.load(dir.resolve("policy.yaml")));
    List<String> lines = e.all().stream().map(Throwable::getMessage).toList();
    assertEquals(List.of(
        d.resolve("a.yaml") + ":2:11: rules[0].name: duplicate rule name \"shared\" (first at "
            + dir.resolve("policy.yaml") + ":3:11)",
        d.resolve("b.yaml") + ":2:11: rules[0].name: duplicate rule name \"shared\" (first at "
            + dir.resolve("policy.yaml") + ":3:11)",
        d.resolve("b.yaml") + ":3:13: rules[0].users[0]: unknown user \"wroker-nobody-x\"",
        d.resolve("c.yaml") + ":1:1: limits: unknown key (expected rules) (a drop-in holds rules only; limits, "
            + "metrics and audit belong in the main policy file)"), lines);
    assertEquals(String.join("\n", lines), e.getMessage(), "every error, one a line");
  }

  @Test
  void everyErrorIsReportedNotOnlyTheFirst() {
    PolicyCheck check = check("""
        rules:
          - name: a
            users: [no-such-user-q, "5-3"]
            groups: [no-such-group-q]
            units: ["bad/unit.service", "foo.timer"]
            owner: someone
            allow: ["relative", "/ok", "/x/${nope}"]
          - name: b
            users: [1]
            allow: ["/a**"]
        limits: {max_connections: 0, max_paths_per_request: 99}
        """);
    assertNull(check.policy());
    List<String> fields = check.errors().stream().map(ConfigException::field).toList();
    assertEquals(List.of("rules[0].users[0]", "rules[0].users[1]", "rules[0].groups[0]", "rules[0].units[0]",
        "rules[0].units[1]", "rules[0].owner", "rules[0].allow[0]", "rules[0].allow[2]", "rules[1].allow[0]",
        "limits.max_paths_per_request", "limits.max_connections"), fields.stream().sorted(
            (x, y) -> Integer.compare(order(x), order(y))).toList(), check.errors().toString());
  }

  private static int order(String field) {
    List<String> known = List.of("rules[0].users[0]", "rules[0].users[1]", "rules[0].groups[0]", "rules[0].units[0]",
        "rules[0].units[1]", "rules[0].owner", "rules[0].allow[0]", "rules[0].allow[2]", "rules[1].allow[0]",
        "limits.max_paths_per_request", "limits.max_connections");
    return known.indexOf(field);
  }

  PolicyCheck check(String yaml) {
    try {
      return Policy.check(Files.writeString(dir.resolve("policy.yaml"), yaml));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "users: [1]\\n    allow: [/proc/**]          | 4:13: rules[0].allow[0]: warning: allows files under /proc",
      "users: [1]\\n    allow: [/sys/kernel/x]     | 4:13: rules[0].allow[0]: warning: allows files under /sys",
      "users: [1]\\n    allow: ['/**']             | 4:13: rules[0].allow[0]: warning: matches every path on the host",
      "users: [1]\\n    allow: ['/**/x']           | 4:13: rules[0].allow[0]: warning: starts with '**'",
      "users: [1]\\n    allow: ['/d*/x']           | 4:13: rules[0].allow[0]: warning: '/d*' matches",
      "users: ['*']\\n    allow: ['/home/**']      | 4:13: rules[0].allow[0]: warning: users: [\"*\"] lets every caller",
      "users: [1]\\n    allow: ['/srv/a?.txt']     | 4:13: rules[0].allow[0]: warning: '?' matches itself",
      "users: [1]\\n    deny: ['/srv/{a,b}']       | 4:12: rules[0].deny[0]: warning: '{' matches itself",
      "users: [1]\\n    allow: ['/srv/[ab]']       | 4:13: rules[0].allow[0]: warning: '[' matches itself",
      "users: [1]\\n    allow: ['/t/${instance}']  | 4:13: rules[0].allow[0]: warning: ${instance} is set only for callers in a systemd unit",
      "groups: [0]\\n    allow: ['/t/${unit}/**']  | 4:13: rules[0].allow[0]: warning: ${unit} is set only",
      "units: [a.service]\\n    allow: ['/t/${instance}'] | 4:13: rules[0].allow[0]: warning: ${instance} is set only for instances",
  })
  void warningsDoNotFailAPolicy(String rule, String expected) {
    PolicyCheck check = check("rules:\n  - name: r\n    " + rule.replace("\\n", "\n") + "\n");
    assertEquals(List.of(), check.errors());
    assertEquals(1, check.warnings().size(), check.warnings().toString());
    String w = check.warnings().get(0).toString().replace("'/d*'", "'/d*'");
    String expectedText = dir.resolve("policy.yaml") + ":" + expected.replace("'/d*' matches", "'d*' matches");
    assertTrue(w.startsWith(expectedText), w + "\n  expected to start with\n" + expectedText);
  }

  @Test
  void quietPoliciesHaveNoWarnings() {
    PolicyCheck check = check("""
        rules:
          - name: tenants
            units: ["render-worker@*.service"]
            allow: ["/srv/tenants/${instance}/**"]
          - name: homes
            groups: [0]
            owner: caller
            allow: ["/home/${user}/public/**"]
        """);
    assertEquals(List.of(), check.errors());
    assertEquals(List.of(), check.warnings());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "/x/${user                 | '${' is not closed",
      "/x/${home}                | unknown variable ${home}",
      "/x/${user}*               | a component with a variable cannot also hold '*'",
  })
  void badVariablesAreErrors(String pattern, String expected) {
    PolicyCheck check = check("rules: [{name: r, users: [1], allow: ['" + pattern + "']}]\n");
    assertEquals(1, check.errors().size());
    assertTrue(check.errors().get(0).problem().startsWith(expected), check.errors().get(0).getMessage());
  }

  @Test
  void aMissingIncludeDirectoryIsAWarning() {
    PolicyCheck check = check("include: /nonexistent/policy.d\nrules: []\n");
    assertEquals(List.of(), check.errors());
    assertTrue(check.warnings().get(0).toString().contains("/nonexistent/policy.d does not exist"));
  }
}
