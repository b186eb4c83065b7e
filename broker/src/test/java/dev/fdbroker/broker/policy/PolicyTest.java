package dev.fdbroker.broker.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PolicyTest {
  @TempDir
  Path dir;

  static final Caller WORKER = new Caller(1001, 1001, 42);
  static final Caller RENDER_GROUP = new Caller(2002, 777, 43);
  static final Caller STRANGER = new Caller(3003, 3003, 44);

  Policy load(String yaml) throws Exception {
    return Policy.load(Files.writeString(dir.resolve("policy.yaml"), yaml));
  }

  ConfigException error(String yaml) {
    return assertThrows(ConfigException.class, () -> load(yaml));
  }

  static final String RENDER = """
      rules:
        - name: render-assets
          users: [1001]
          groups: [777]
          allow: ["/srv/assets/**", "/etc/app/config.json", "/srv/logs/*.log"]
          deny:  ["/srv/assets/private/**"]
        - name: later-rule
          users: [1001]
          allow: ["/srv/assets/private/readme.txt", "/opt/**"]
        - name: deny-opt-secrets
          users: [1001]
          deny: ["/opt/**/secret*"]
      """;

  @ParameterizedTest
  @CsvSource({
      "/srv/assets/logo.png,           true,  render-assets",
      "/srv/assets/a/b/c/d.png,        true,  render-assets",
      "/srv/assets,                    true,  render-assets",
      "/etc/app/config.json,           true,  render-assets",
      "/etc/app/config.json.bak,       false, ",
      "/etc/app,                       false, ",
      "/srv/logs/app.log,              true,  render-assets",
      "/srv/logs/.log,                 true,  render-assets",
      "/srv/logs/sub/app.log,          false, ",
      "/srv/logs/app.log.1,            false, ",
      "/srv/assets/private/key,        false, render-assets",
      "/srv/assets/private/readme.txt, false, render-assets",
      "/srv/assets_private/x,          false, ",
      "/srv/assetsx/logo.png,          false, ",
      "/opt/tool/bin/run,              true,  later-rule",
      "/opt/tool/secret.key,           false, deny-opt-secrets",
      "/opt/secret,                    false, deny-opt-secrets",
      "/,                              false, ",
  })
  void decidesWithDenyWinsAndDefaultDeny(String path, boolean allowed, String rule) throws Exception {
    Decision d = load(RENDER).decide(WORKER, path);
    assertEquals(allowed, d.allowed(), d.toString());
    switch (d) {
      case Decision.Allowed a -> assertEquals(rule, a.rule().name());
      case Decision.Denied dn -> assertEquals(rule, dn.rule().name());
      case Decision.Traversable t -> throw new AssertionError("decide never answers traversable");
      case Decision.NoRuleAllows n -> assertEquals(null, rule);
    }
  }

  @Test
  void rulesApplyByUidOrPrimaryGidAndOthersGetNothing() throws Exception {
    Policy p = load(RENDER);
    assertTrue(p.decide(RENDER_GROUP, "/srv/assets/logo.png").allowed());
    // later-rule lists only uid 1001, so its allow does not reach the group member.
    assertFalse(p.decide(RENDER_GROUP, "/opt/tool/bin/run").allowed());
    assertInstanceOf(Decision.NoRuleAllows.class, p.decide(STRANGER, "/srv/assets/logo.png"));
  }

  @Test
  void aDenyInARuleThatDoesNotApplyToTheCallerDoesNotCount() throws Exception {
    Policy p = load("""
        rules:
          - name: allow-all
            users: [1001]
            allow: ["/data/**"]
          - name: deny-for-others
            users: [2002]
            deny: ["/data/**"]
        """);
    assertTrue(p.decide(WORKER, "/data/x").allowed());
    assertFalse(p.decide(new Caller(2002, 0, 1), "/data/x").allowed());
  }

  @Test
  void everyoneRule() throws Exception {
    Policy p = load("rules:\n  - name: pub\n    users: [\"*\"]\n    allow: [/usr/share/**]\n");
    assertTrue(p.decide(STRANGER, "/usr/share/doc/x").allowed());
    assertTrue(p.decide(new Caller(0, 0, 1), "/usr/share/doc/x").allowed());
  }

  @Test
  void namesResolveThroughTheUserDatabase() throws Exception {
    Policy p = load("rules:\n  - name: n\n    users: [root, nobody, \"4242\"]\n    groups: [nogroup]\n    allow: [/x]\n");
    Rule r = p.rules().get(0);
    assertTrue(r.appliesTo(new Caller(0, 5, 1)));
    assertTrue(r.appliesTo(new Caller(65534, 5, 1)));
    assertTrue(r.appliesTo(new Caller(4242, 5, 1)));
    assertTrue(r.appliesTo(new Caller(9, 65534, 1)));
    assertFalse(r.appliesTo(new Caller(9, 9, 1)));
  }

  @Test
  void limitsHaveDefaultsAndCanBeSet() throws Exception {
    assertEquals(Limits.DEFAULTS, load("rules: []").limits());
    Limits l = load("""
        limits:
          max_connections: 10
          max_connections_per_uid: 3
          requests_per_second_per_uid: 7
          max_paths_per_request: 8
          idle_timeout_seconds: 1.5
          request_timeout_seconds: 2
        rules: []
        """).limits();
    assertEquals(new Limits(10, 3, 7, 8, Duration.ofMillis(1500), Duration.ofSeconds(2), 16_384, 4_096), l);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "rulez: []                                                               | 1:1: rulez: unknown key (expected audit, include, limits, metrics, rules)",
      "limits: {}                                                              | 1:1: missing \"rules\"",
      "rules: {}                                                               | 1:8: rules: expected a list of rules, found a mapping",
      "rules: [{users: [1], allow: [/a]}]                                      | 1:9: rules[0]: a rule needs a \"name\"",
      "rules: [{name: 'a b', users: [1], allow: [/a]}]                         | 1:16: rules[0].name: rule names are",
      "rules: [{name: a, users: [1], allow: [/a], deny_all: true}]             | 1:44: rules[0].deny_all: unknown key",
      "rules: [{name: a, allow: [/a]}]                                         | 1:9: rules[0]: rule \"a\" applies to no one",
      "rules: [{name: a, users: [1]}]                                          | 1:9: rules[0]: rule \"a\" has no \"allow\" or \"deny\" patterns",
      "rules: [{name: a, users: [no-such-user-x], allow: [/a]}]                | 1:27: rules[0].users[0]: unknown user \"no-such-user-x\"",
      "rules: [{name: a, groups: [no-such-group-x], allow: [/a]}]              | 1:28: rules[0].groups[0]: unknown group \"no-such-group-x\"",
      "rules: [{name: a, users: [4294967295], allow: [/a]}]                    | 1:27: rules[0].users[0]: user id 4294967295 is out of range",
      "rules: [{name: a, users: [-1], allow: [/a]}]                            | 1:27: rules[0].users[0]: user id -1 is out of range",
      "rules: [{name: a, users: [[1]], allow: [/a]}]                           | 1:27: rules[0].users[0]: expected a user name, uid or uid range, found a list",
      "rules: [{name: a, users: [1], allow: [relative]}]                       | 1:39: rules[0].allow[0]: pattern must be an absolute path",
      "rules: [{name: a, users: [1], allow: [/a/../b]}]                        | 1:39: rules[0].allow[0]: pattern has a '..' component",
      "rules: [{name: a, users: [1], allow: [/a//b]}]                          | 1:39: rules[0].allow[0]: pattern has an empty component",
      "rules: [{name: a, users: [1], allow: [/a/]}]                            | 1:39: rules[0].allow[0]: pattern has an empty component",
      "rules: [{name: a, users: [1], deny: [/a/b**]}]                          | 1:38: rules[0].deny[0]: '**' must be a whole path component",
      "rules: [{name: a, users: [1], allow: [7]}]                              | 1:39: rules[0].allow[0]: expected a path pattern, found 7",
      "rules: [{name: a, users: [1], allow: [/a]}, {name: a, users: [1], allow: [/b]}] | 1:52: rules[1].name: duplicate rule name \"a\" (first at line 1)",
      "limits: {max_connections: 0}\\nrules: []                                 | 1:27: limits.max_connections: expected a whole number from 1 to 1000000, found 0",
      "limits: {max_paths_per_request: 65}\\nrules: []                          | 1:33: limits.max_paths_per_request: expected a whole number from 1 to 64",
      "limits: {idle_timeout_seconds: 0}\\nrules: []                            | 1:32: limits.idle_timeout_seconds: expected a number of seconds",
      "limits: {idle_timeout_seconds: '5'}\\nrules: []                          | 1:32: limits.idle_timeout_seconds: expected a number of seconds",
      "rules: []\\nrules: []                                                        | 2:1: rules: duplicate key (first at line 1)",
  })
  void configErrorsNameLineColumnAndField(String yaml, String expected) {
    ConfigException e = error(yaml.replace("\\n", "\n"));
    String prefix = dir.resolve("policy.yaml") + ":";
    assertTrue(e.getMessage().startsWith(prefix + expected), e.getMessage());
  }

  /** A key written with nothing after it ("rules:") says what it wants, and that it got nothing. */
  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "rules:                                                  | 1:7: rules: expected a list of rules, found no value",
      "rules: ~                                                | 1:8: rules: expected a list of rules, found null",
      "rules: ''                                               | 1:8: rules: expected a list of rules, found the string \"\"",
      "rules:\\n  -                                            | 2:4: rules[0]: expected a rule (a mapping with name, users, groups or units, and allow or deny), found no value",
      "rules:\\n  - name:\\n    users: [1]\\n    allow: [/a]     | 2:10: rules[0].name: expected a rule name, found no value",
      "rules:\\n  - name: a\\n    users:\\n    allow: [/a]       | 3:11: rules[0].users: expected a list of user names, uids or uid ranges, found no value",
      "rules:\\n  - name: a\\n    users:\\n      -\\n    allow: [/a] | 4:8: rules[0].users[0]: expected a user name, uid or uid range, found no value",
      "rules:\\n  - name: a\\n    groups:\\n    allow: [/a]      | 3:12: rules[0].groups: expected a list of group names or gids, found no value",
      "rules:\\n  - name: a\\n    users: [1]\\n    allow:        | 4:11: rules[0].allow: expected a list of path patterns, found no value",
      "rules:\\n  - name: a\\n    users: [1]\\n    deny:         | 4:10: rules[0].deny: expected a list of path patterns, found no value",
      "rules:\\n  - name: a\\n    users: [1]\\n    allow:\\n      - | 5:8: rules[0].allow[0]: expected a path pattern, found no value",
      "limits:\\nrules: []                                       | 1:8: limits: expected a mapping of limits, such as {max_connections: 1024}, found no value",
      "limits:\\n  max_connections:\\nrules: []                  | 2:19: limits.max_connections: expected a whole number from 1 to 1000000, found no value",
      "limits:\\n  idle_timeout_seconds:\\nrules: []             | 2:24: limits.idle_timeout_seconds: expected a number of seconds from 0.001 to 86400, found no value",
      "metrics:\\nrules: []                                      | 1:9: metrics: expected a mapping such as {listen: \"127.0.0.1:9464\"}, found no value",
      "metrics:\\n  listen:\\nrules: []                          | 2:10: metrics.listen: expected an address (host:port, unix:/path or systemd), found no value",
      "audit:\\nrules: []                                        | 1:7: audit: expected a mapping such as {output: /var/log/fdbroker/audit.jsonl}, found no value",
      "audit:\\n  output:\\nrules: []                            | 2:10: audit.output: expected \"stderr\" or an absolute file path, found no value",
  })
  void aKeyGivenNoValueSaysWhatItExpected(String yaml, String expected) {
    ConfigException e = error(yaml.replace("\\n", "\n"));
    assertEquals(dir.resolve("policy.yaml") + ":" + expected, e.getMessage());
  }

  @Test
  void jsonPoliciesWorkToo() throws Exception {
    Path json = Files.writeString(dir.resolve("p.json"),
        "{\"rules\": [{\"name\": \"j\", \"users\": [1001], \"allow\": [\"/j/**\"]}]}");
    assertTrue(Policy.load(json).decide(WORKER, "/j/x").allowed());
    Path dup = Files.writeString(dir.resolve("d.json"), "{\"rules\": [], \"rules\": []}");
    ConfigException e = assertThrows(ConfigException.class, () -> Policy.load(dup));
    assertTrue(e.getMessage().contains("rules: duplicate key"), e.getMessage());
  }
}
