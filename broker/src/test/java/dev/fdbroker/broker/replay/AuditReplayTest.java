package dev.fdbroker.broker.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fdbroker.broker.policy.Policy;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Replaying audit lines against a policy: what changes, how it is printed, and what is refused. */
class AuditReplayTest {
  @TempDir
  Path dir;

  /** The policy replayed against: 1001 keeps /srv/a but loses /srv/a/private; group 50 gains /srv/b. */
  static final String STRICTER = """
      rules:
        - name: assets
          users: [1001]
          allow: ["/srv/a/**"]
          deny: ["/srv/a/private/**"]
        - name: staff
          groups: [50]
          allow: ["/srv/b/**"]
        - name: own-homes
          users: [1002]
          owner: caller
          allow: ["/home/${user}/**"]
      """;

  static final String TENANTS = """
      rules:
        - name: tenants
          units: ["render@*.service"]
          allow: ["/srv/tenants/${instance}/**"]
      """;

  Policy policy(String yaml) throws Exception {
    return Policy.load(Files.writeString(dir.resolve("policy.yaml"), yaml));
  }

  static String line(long uid, String user, long gid, String groups, String unit, String path, String decision,
      String rule, String error) {
    return "{\"time\":\"2026-12-03T21:00:00.000000000Z\",\"conn\":1,\"uid\":" + uid + ",\"user\":" + json(user)
        + ",\"gid\":" + gid + ",\"groups\":[" + groups + "],\"pid\":4242,\"exe\":null,\"unit\":" + json(unit)
        + ",\"op\":\"open\",\"path\":" + json(path) + ",\"decision\":\"" + decision + "\",\"rule\":" + json(rule)
        + ",\"error\":" + json(error) + ",\"latency_us\":7}";
  }

  static String allow(long uid, String path, String rule) {
    return line(uid, "u" + uid, uid, "", null, path, "allow", rule, null);
  }

  static String deny(long uid, String path, String rule) {
    return line(uid, "u" + uid, uid, "", null, path, "deny", rule, "denied");
  }

  static String json(String s) {
    return s == null ? "null" : "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
  }

  ReplayReport replay(String yaml, String... lines) throws Exception {
    return replay(policy(yaml), String.join("\n", lines) + "\n");
  }

  static ReplayReport replay(Policy p, String log) throws Exception {
    return AuditReplay.replay(p, new ByteArrayInputStream(log.getBytes(StandardCharsets.UTF_8)), "audit.jsonl");
  }

  @Test
  void printsEachChangedCallerAndPathOnceWithItsCountAllowToDenyFirst() throws Exception {
    ReplayReport r = replay(STRICTER,
        deny(1003, "/srv/b/x", null), // 1003 is in no group 50: still denied
        line(1003, "u1003", 1003, "50", null, "/srv/b/x", "deny", null, "denied"),
        allow(1001, "/srv/a/private/key", "render-assets"),
        allow(1001, "/srv/a/public", "render-assets"),
        allow(1001, "/srv/a/private/key", "render-assets"),
        line(1003, "u1003", 1003, "50", null, "/srv/b/x", "deny", null, "denied"),
        allow(1000, "/srv/a/private/key", "legacy"),
        allow(1001, "/srv/a/private/key", "old-rule"));
    assertEquals(List.of(
        "allow -> deny  count=1 uid=1000(u1000) gid=1000 path=/srv/a/private/key was=legacy now=(none)",
        "allow -> deny  count=3 uid=1001(u1001) gid=1001 path=/srv/a/private/key was=old-rule,render-assets now=assets",
        "deny -> allow  count=2 uid=1003(u1003) gid=1003 groups=50 path=/srv/b/x was=(none) now=staff",
        "replayed 8 decisions: 6 would change"), r.lines());
    assertEquals(3, r.changes().size());
  }

  @Test
  void theVerdictCountsNotWhetherTheFileWasGranted() throws Exception {
    // An allowed path the broker could not open was still allowed: the policy's answer is compared.
    ReplayReport r = replay(STRICTER,
        line(1001, "w", 1001, "", null, "/srv/a/missing", "allow", "assets", "not_found"),
        line(1001, "w", 1001, "", null, "/srv/a/private/link", "allow", "assets", "symlink"),
        line(1002, "bob", 1002, "", null, "/home/bob/x", "allow", "own-homes", "denied"));
    assertEquals(List.of(
        "allow -> deny  count=1 uid=1001(w) gid=1001 path=/srv/a/private/link was=assets now=assets",
        "replayed 3 decisions: 1 would change"), r.lines());
  }

  @Test
  void anUnchangedPolicyChangesNothing() throws Exception {
    ReplayReport r = replay(STRICTER, allow(1001, "/srv/a/x", "assets"), deny(1001, "/srv/a/private/x", "assets"),
        deny(7, "/etc/shadow", null));
    assertEquals(List.of("replayed 3 decisions: 0 would change"), r.lines());
  }

  @Test
  void groupsUserAndUnitComeFromTheLineAndArePrinted() throws Exception {
    ReplayReport r = replay(TENANTS,
        line(2000, "t", 2000, "9,50", "render@acme.service", "/srv/tenants/acme/f", "deny", null, "denied"),
        line(2000, "t", 2000, "9,50", "render@acme.service", "/srv/tenants/other/f", "deny", null, "denied"),
        line(2000, null, 2000, "", "render@acme.service", "/srv/tenants/acme/g", "deny", null, "denied"));
    assertEquals(List.of(
        "deny -> allow  count=1 uid=2000 gid=2000 unit=render@acme.service path=/srv/tenants/acme/g was=(none) now=tenants",
        "deny -> allow  count=1 uid=2000(t) gid=2000 groups=9,50 unit=render@acme.service path=/srv/tenants/acme/f"
            + " was=(none) now=tenants",
        "replayed 3 decisions: 2 would change"), r.lines());
  }

  @Test
  void anAllowThatDependsOnTheFilesOwnerSaysSo() throws Exception {
    // ${user} is the name the log holds: no user database is asked.
    ReplayReport r = replay(STRICTER,
        line(1002, "bob", 1002, "", null, "/home/bob/notes", "deny", null, "denied"),
        line(1002, "bob", 1002, "", null, "/home/alice/notes", "deny", null, "denied"),
        line(1002, "bob", 1002, "", null, "/home/bob/old", "allow", "homes", null));
    assertEquals(List.of(
        "deny -> allow  count=1 uid=1002(bob) gid=1002 path=/home/bob/notes was=(none) now=own-homes"
            + " (if the caller owns the file)",
        "note: 1 decision allowed before is now allowed by a rule with owner: caller, only if the caller owns the"
            + " file; not counted as changes",
        "replayed 3 decisions: 1 would change"), r.lines());
  }

  @Test
  void linesOfAnOlderBrokerReplayAsCallersWithoutGroupsUserOrUnit() throws Exception {
    String old = "{\"time\":\"2026-11-26T12:00:45.500556473Z\",\"conn\":17,\"uid\":1003,\"gid\":1003,\"pid\":4242,"
        + "\"exe\":\"/usr/bin/python3.11\",\"op\":\"open\",\"path\":\"/srv/b/logo.png\",\"decision\":\"allow\","
        + "\"rule\":\"render-assets\",\"error\":null,\"latency_us\":21}";
    ReplayReport r = replay(STRICTER + TENANTS.substring("rules:\n".length()), old);
    assertEquals(List.of(
        "allow -> deny  count=1 uid=1003 gid=1003 path=/srv/b/logo.png was=render-assets now=(none)",
        "note: 1 decision had no user, groups and unit (logged by an older broker) and was replayed as from a"
            + " caller with none",
        "note: the policy names systemd units, but no decision in the log has one: a broker looks units up only"
            + " while its policy names one, so rules by unit were replayed as applying to nobody",
        "replayed 1 decisions: 1 would change"), r.lines());
  }

  @Test
  void invalidRequestsAndBlankLinesAreNoDecisions() throws Exception {
    ReplayReport r = replay("rules: []\n",
        "{\"time\":\"t\",\"conn\":1,\"uid\":5,\"user\":null,\"gid\":5,\"groups\":[],\"pid\":1,\"exe\":null,\"unit\":null,"
            + "\"op\":\"invalid\",\"path\":null,\"decision\":\"invalid\",\"rule\":null,\"error\":\"bad_request\",\"latency_us\":1}",
        line(5, null, 5, "", null, "/a/../b", "invalid", null, "bad_request"),
        "",
        "  \r",
        allow(5, "/srv/x", "gone"));
    assertEquals(List.of(
        "allow -> deny  count=1 uid=5(u5) gid=5 path=/srv/x was=gone now=(none)",
        "note: 2 lines recorded no decision (an invalid request or path) and were skipped",
        "replayed 1 decisions: 1 would change"), r.lines());
  }

  @Test
  void valuesThatCouldBeMisreadArePrintedAsJsonStrings() throws Exception {
    ReplayReport r = replay("rules: []\n",
        line(5, "a (b)", 5, "", "x y.service", "/srv/we\"ird name\nwith\u2028é", "allow", "r,s", null),
        allow(5, "/srv/é/ok", "r"));
    assertEquals(List.of(
        "allow -> deny  count=1 uid=5(\"a (b)\") gid=5 unit=\"x y.service\" path=\"/srv/we\\\"ird name\\nwith\\u2028é\""
            + " was=\"r,s\" now=(none)",
        "allow -> deny  count=1 uid=5(u5) gid=5 path=/srv/é/ok was=r now=(none)",
        "replayed 2 decisions: 2 would change"), r.lines());
  }

  @Test
  void anEmptyLogReplaysNothing() throws Exception {
    assertEquals(List.of("replayed 0 decisions: 0 would change"), replay(policy("rules: []\n"), "").lines());
  }

  @Test
  void aLogIsStreamedNotHeld() throws Exception {
    // A log made up as it is read, never held anywhere: 300,000 lines (some 60 MB), one change.
    byte[] one = (allow(1001, "/srv/a/private/k", "assets") + "\n").getBytes(StandardCharsets.UTF_8);
    long lines = 300_000;
    InputStream log = new InputStream() {
      long pos;

      @Override
      public int read() {
        return pos == lines * one.length ? -1 : one[(int) (pos++ % one.length)];
      }

      @Override
      public int read(byte[] b, int off, int len) {
        int n = 0;
        while (n < len && pos < lines * one.length) {
          b[off + n++] = one[(int) (pos++ % one.length)];
        }
        return n == 0 ? -1 : n;
      }
    };
    ReplayReport r = AuditReplay.replay(policy(STRICTER), log, "big.jsonl");
    assertEquals(1, r.changes().size());
    assertEquals(lines, r.changes().get(0).count());
    assertEquals("replayed 300000 decisions: 300000 would change", r.summary());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
      not json at all                                            | not valid JSON: Unrecognized token 'not'
      [1, 2]                                                     | not a JSON object
      {"op":"open"} {}                                           | more after the JSON object
      {"op":"open","op":"open"}                                  | not valid JSON: Duplicate field 'op'
      {"uid":1}                                                  | missing "op"
      {"op":7}                                                   | "op" must be a string or null, not 7
      {"op":"open","uid":1,"gid":1,"pid":1,"path":"/a","rule":null} | missing "decision"
      {"op":"open","decision":"maybe"}                           | "decision" must be "allow", "deny" or "invalid", not "maybe"
      {"op":"open","decision":"allow","gid":1,"pid":1,"path":"/a","rule":null} | missing "uid"
      {"op":"open","decision":"allow","uid":"1","gid":1,"pid":1,"path":"/a","rule":null} | "uid" must be an integer from 0 to 4294967295, not a string
      {"op":"open","decision":"allow","uid":-1,"gid":1,"pid":1,"path":"/a","rule":null} | "uid" must be an integer from 0 to 4294967295, not -1
      {"op":"open","decision":"allow","uid":1.5,"gid":1,"pid":1,"path":"/a","rule":null} | "uid" must be an integer from 0 to 4294967295, not 1.5
      {"op":"open","decision":"allow","uid":1,"gid":1,"pid":1,"path":7,"rule":null} | "path" must be a string or null, not 7
      {"op":"open","decision":"allow","uid":1,"gid":1,"pid":1,"path":null,"rule":null} | "path" must be a string, not null
      {"op":"open","decision":"deny","uid":1,"gid":1,"pid":1,"rule":null} | missing "path"
      {"op":"open","decision":"deny","uid":1,"gid":1,"pid":1,"path":"/a"} | missing "rule"
      {"op":"open","decision":"deny","uid":1,"gid":1,"pid":1,"path":"/a/../b","rule":null} | "path" "/a/../b" was never decided on by a broker: path has a '..' component
      {"op":"open","decision":"deny","uid":1,"gid":1,"pid":1,"groups":[1,"x"],"path":"/a","rule":null} | "groups[1]" must be an integer from 0 to 4294967295, not a string
      {"op":"open","decision":"deny","uid":1,"gid":1,"pid":1,"groups":{},"path":"/a","rule":null} | "groups" must be an array of gids, not an object
      {"op":"open","decision":"deny","uid":1,"gid":1,"pid":1,"user":[],"path":"/a","rule":null} | "user" must be a string or null, not an array
      """)
  void aMalformedLineFailsNamingTheFileAndLine(String bad, String problem) throws Exception {
    Policy p = policy("rules: []\n");
    String log = allow(1, "/a", null) + "\n\n" + bad + "\n" + allow(1, "/b", null) + "\n";
    BadAuditLineException e = assertThrows(BadAuditLineException.class, () -> replay(p, log));
    assertTrue(e.getMessage().startsWith("audit.jsonl:3: " + problem), e.getMessage());
    assertEquals(3, e.line());
  }

  @Test
  void aCutLastLineSaysSoAndAnOverlongLineIsRefused() throws Exception {
    Policy p = policy("rules: []\n");
    String cut = allow(1, "/a", null) + "\n" + allow(1, "/b", null).substring(0, 40);
    BadAuditLineException e = assertThrows(BadAuditLineException.class, () -> replay(p, cut));
    assertTrue(e.getMessage().startsWith("audit.jsonl:2: not valid JSON: "), e.getMessage());
    assertTrue(e.getMessage().endsWith("(the last line has no newline: was it cut short while being written?)"),
        e.getMessage());
    // A whole last line without its newline is fine.
    assertEquals("replayed 1 decisions: 1 would change", replay(p, allow(1, "/a", "r")).summary());

    String huge = allow(1, "/a", null) + "\n" + "{\"op\":\"" + "x".repeat(AuditLines.MAX_LINE_BYTES) + "\"}\n";
    BadAuditLineException h = assertThrows(BadAuditLineException.class, () -> replay(p, huge));
    assertEquals("audit.jsonl:2: the line is longer than 1048576 bytes: not a line the broker writes", h.getMessage());
  }
}
