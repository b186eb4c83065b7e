package dev.fdbroker.broker.policy;

import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of issue 12 (branch review): docs/protocol.md makes a directory visible when "some allow
 * pattern of a rule that applies to the caller could match" below it. A pattern whose variable
 * the caller has no value for matches nothing (docs/policy.md), so it is no way down; but the
 * trie's beneath index holds it under the literal before the variable whatever the caller's
 * values, so /home is traversable (stat shows its attributes, list answers) for a caller with no
 * user name (a uid without a passwd entry: DynamicUser=, a range of subordinate uids).
 */
class TraversalReviewTest {
  @TempDir
  Path dir;

  @Test
  void aPatternWhoseVariableTheCallerLacksIsNoWayDown() throws Exception {
    Policy p = Policy.load(Files.writeString(dir.resolve("policy.yaml"), """
        rules:
          - name: homes
            users: ["100000-165535"]
            allow: ["/home/${user}/public/**"]
          - name: tenants
            users: ["100000-165535"]
            allow: ["/srv/tenants/${instance}/**"]
        """));
    Caller nameless = new Caller(100123, 100123, 1, new long[0], null, null);
    assertNull(p.beneath(nameless, "/home"), "/home/${user}/public/** can match nothing for a caller with no user name");
    assertNull(p.beneath(nameless, "/"), "nor can anything else in this policy");
    assertNull(p.beneath(nameless, "/srv/tenants"), "a caller in no unit has no ${instance}");
  }
}
