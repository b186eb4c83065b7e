package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code fdbroker check-config --replay}, as an operator uses it before a reload: the audit log a
 * real broker wrote for a real unprivileged caller, replayed by the packaged command against a
 * stricter policy.
 */
class ReplayIT {

  /** Waits until the audit file holds {@code n} lines, for at most 10 s; returns them. */
  private static List<String> awaitLines(Path audit, int n) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    List<String> lines = List.of();
    while (System.nanoTime() < deadline) {
      lines = Files.exists(audit) ? Files.readAllLines(audit) : List.of();
      if (lines.size() >= n) {
        break;
      }
      Thread.sleep(50);
    }
    assertEquals(n, lines.size(), "one line per path: " + lines);
    return lines;
  }

  @Test
  void aStricterPolicyShowsWhatNobodyWouldLoseAndGain() throws Exception {
    assumeTrue(ItSupport.isRoot(), "the caller is nobody, via setpriv");
    try (Fixture f = Fixture.startWith("audit: {output: ROOT/audit/audit.jsonl}", Map.of())) {
      String a = f.allowed.toString();
      List<String> paths = List.of(a + "/public.txt", a + "/secret.txt", a + "/secret.txt", a + "/sub/deep.txt",
          a + "/private/key.txt", f.outsideSecret.toString(), a + "/missing.txt", a + "/../etc/passwd");
      f.probe(ItSupport.NOBODY, ItSupport.NOGROUP, List.of(Map.of("op", "open", "paths", paths)));
      Path audit = f.root.resolve("audit/audit.jsonl");
      awaitLines(audit, paths.size());

      // The policy in force changes nothing: the callers are rebuilt as the broker saw them.
      ItSupport.Result same = CliIT.fdbroker("check-config", "--replay", audit.toString(), f.policy.toString())
          .assertExit(0);
      assertEquals("""
          note: 1 line recorded no decision (an invalid request or path) and was skipped
          replayed 7 decisions: 0 would change
          """, same.stdout());

      // Stricter for nobody: only public.txt (and missing.txt); but its own files under private/.
      Path stricter = Files.writeString(f.root.resolve("stricter.yaml"), """
          rules:
            - name: workers
              users: [nobody]
              allow: ["%s/public.txt", "%s/missing.txt"]
            - name: own-keys
              users: [nobody]
              owner: caller
              allow: ["%s/private/**"]
          """.formatted(a, a, a));
      ItSupport.Result r = CliIT.fdbroker("check-config", "--replay", audit.toString(), stricter.toString())
          .assertExit(0);
      assertEquals("""
          allow -> deny  count=2 uid=65534(nobody) gid=65534 path=A/secret.txt was=workers now=(none)
          allow -> deny  count=1 uid=65534(nobody) gid=65534 path=A/sub/deep.txt was=workers now=(none)
          deny -> allow  count=1 uid=65534(nobody) gid=65534 path=A/private/key.txt was=workers now=own-keys \
          (if the caller owns the file)
          note: 1 line recorded no decision (an invalid request or path) and was skipped
          replayed 7 decisions: 4 would change
          """.replace("A/", a + "/"), r.stdout());
      assertEquals("", r.stderr());
    }
  }

  @Test
  void aMalformedLogOrPolicyFailsWithOneExitStatus() throws Exception {
    Path dir = ItSupport.worldReadableTempDir("fdbroker-replay-");
    try {
      Path policy = Files.writeString(dir.resolve("policy.yaml"), "rules: []\n");
      String good = "{\"uid\":1,\"gid\":1,\"pid\":2,\"op\":\"open\",\"path\":\"/a\",\"decision\":\"allow\",\"rule\":\"r\"}";
      Path audit = Files.writeString(dir.resolve("audit.jsonl"), good + "\n" + good.replace("\"uid\":1", "\"uid\":\"x\"") + "\n");
      ItSupport.Result bad = CliIT.fdbroker("check-config", "--replay", audit.toString(), policy.toString());
      assertEquals(1, bad.exit());
      assertEquals("", bad.stdout(), "nothing is reported from half a log");
      assertEquals(audit + ":2: \"uid\" must be an integer from 0 to 4294967295, not a string\n", bad.stderr());

      ItSupport.Result missing = CliIT.fdbroker("check-config", "--replay", dir.resolve("absent.jsonl").toString(),
          policy.toString());
      assertEquals(1, missing.exit());
      assertEquals(dir.resolve("absent.jsonl") + ": cannot read the audit log: no such file\n", missing.stderr());

      Path broken = Files.writeString(dir.resolve("broken.yaml"), """
          rules:
            - name: a
              users: [no-such-user-here]
              allow: ["/srv/a**b"]
          """);
      Files.writeString(audit, good + "\n");
      ItSupport.Result unusable = CliIT.fdbroker("check-config", "--replay", audit.toString(), broken.toString());
      assertEquals(1, unusable.exit(), "a policy the replay cannot use is a failure");
      List<String> errors = unusable.stderr().lines().toList();
      assertEquals(3, errors.size(), unusable.stderr());
      assertTrue(errors.get(0).startsWith(broken + ":3:13: rules[0].users[0]: unknown user"), unusable.stderr());
      assertTrue(errors.get(1).startsWith(broken + ":4:13: rules[0].allow[0]:"), unusable.stderr());
      assertEquals(broken + ": 2 errors, 0 warnings", errors.get(2));
      assertEquals(2, CliIT.fdbroker("check-config", broken.toString()).exit(), "without --replay, still a config error");

      ItSupport.Result ok = CliIT.fdbroker("check-config", "--replay", audit.toString(), policy.toString()).assertExit(0);
      assertEquals("allow -> deny  count=1 uid=1 gid=1 path=/a was=r now=(none)\n"
          + "note: 1 decision had no user, groups and unit (logged by an older broker) and was replayed as from a"
          + " caller with none\nreplayed 1 decisions: 1 would change\n", ok.stdout());
    } finally {
      ItSupport.deleteTree(dir);
    }
  }
}
