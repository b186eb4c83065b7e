package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** The fdbroker command as an operator runs it: {@code java -jar fdbroker.jar ...}. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CliIT {
  private Path dir;

  @BeforeAll
  void setUp() throws Exception {
    dir = ItSupport.worldReadableTempDir("fdbroker-cli-");
  }

  @AfterAll
  void tearDown() throws Exception {
    ItSupport.deleteTree(dir);
  }

  static ItSupport.Result fdbroker(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ItSupport.java(), "-jar", ItSupport.brokerJar().toString()));
    cmd.addAll(List.of(args));
    return ItSupport.run(cmd, Duration.ofSeconds(60));
  }

  Path policy(String name, String yaml) throws Exception {
    return Files.writeString(dir.resolve(name), yaml);
  }

  @Test
  void checkConfigAcceptsAValidPolicy() throws Exception {
    Path p = policy("good.yaml", """
        rules:
          - name: render-assets
            users: [nobody, 1001]
            groups: [nogroup]
            allow: ["/srv/assets/**", "/etc/app/config.json"]
            deny:  ["/srv/assets/private/**"]
        """);
    ItSupport.Result r = fdbroker("check-config", p.toString()).assertExit(0);
    assertEquals(p + ": OK (1 rule)\n", r.stdout());
  }

  @Test
  void checkConfigNamesFileLineColumnAndField() throws Exception {
    Path p = policy("bad.yaml", """
        rules:
          - name: a
            users: [nobody]
            allow: ["/srv/**"]
          - name: b
            users: [nobody, no-such-user-here]
            allow: ["/srv/**"]
        """);
    ItSupport.Result r = fdbroker("check-config", p.toString());
    assertEquals(2, r.exit());
    assertEquals(p + ":6:21: rules[1].users[1]: unknown user \"no-such-user-here\"\n", r.stderr());

    Path glob = policy("glob.yaml", "rules:\n  - name: g\n    users: [0]\n    allow: [\"/srv/a**b\"]\n");
    ItSupport.Result g = fdbroker("check-config", glob.toString());
    assertEquals(2, g.exit());
    assertTrue(g.stderr().startsWith(glob + ":4:13: rules[0].allow[0]: '**' must be a whole path component"), g.stderr());

    Path key = policy("key.json", "{\"rules\": [], \"limitz\": {}}");
    ItSupport.Result k = fdbroker("check-config", key.toString());
    assertEquals(2, k.exit());
    assertTrue(k.stderr().startsWith(key + ":1:15: limitz: unknown key"), k.stderr());

    ItSupport.Result missing = fdbroker("check-config", dir.resolve("absent.yaml").toString());
    assertEquals(2, missing.exit());
    assertTrue(missing.stderr().contains("absent.yaml: cannot read the file"), missing.stderr());
  }

  @Test
  void noCommandIsAUsageErrorButHelpIsNot() throws Exception {
    ItSupport.Result none = fdbroker();
    assertEquals(2, none.exit(), "fdbroker --help says a usage error exits 2");
    assertEquals("", none.stdout());
    assertTrue(none.stderr().startsWith("Usage: fdbroker [-hV] [COMMAND]\n"), none.stderr());
    ItSupport.Result help = fdbroker("--help").assertExit(0);
    assertTrue(help.stdout().startsWith("Usage: fdbroker [-hV] [COMMAND]\n"), help.stdout());
    assertTrue(help.stdout().contains("2   usage or config error"), help.stdout());
    fdbroker("--version").assertExit(0);
  }

  @Test
  void aMissingArgumentIsAUsageErrorThatNamesIt() throws Exception {
    ItSupport.Result noFile = fdbroker("check-config");
    assertEquals(2, noFile.exit());
    assertTrue(noFile.stderr().startsWith("Missing required parameter: 'FILE'\nUsage: fdbroker check-config"), noFile.stderr());
    Path p = policy("any.yaml", "rules: []\n");
    ItSupport.Result noPath = fdbroker("explain", "--config", p.toString(), "--uid", "0");
    assertEquals(2, noPath.exit());
    assertTrue(noPath.stderr().startsWith("Missing required parameter: 'PATH'\nUsage: fdbroker explain"), noPath.stderr());
    assertEquals("", noPath.stdout(), "nothing is explained without a path");
    ItSupport.Result noConfig = fdbroker("serve", "--socket", dir.resolve("s.sock").toString());
    assertEquals(2, noConfig.exit());
    assertTrue(noConfig.stderr().startsWith("Missing required option: '--config=FILE'\nUsage: fdbroker serve"), noConfig.stderr());
  }

  @Test
  void explainSaysWhichRuleDecided() throws Exception {
    Path p = policy("explain.yaml", """
        rules:
          - name: render-assets
            users: [nobody]
            allow: ["/srv/assets/**"]
            deny:  ["/srv/assets/private/**"]
        """);
    ItSupport.Result r = fdbroker("explain", "--config", p.toString(), "--uid", "65534",
        "/srv/assets/logo.png", "/srv/assets/private/key", "/etc/passwd", "/srv/assets/../etc/passwd");
    assertEquals(1, r.exit(), r.stderr());
    String out = r.stdout();
    assertTrue(out.contains("caller: uid 65534 (nobody), gid 65534 (nogroup)"), out);
    assertTrue(out.contains("allow  /srv/assets/logo.png\n       rule \"render-assets\" (" + p + ":2:5) allows it with pattern /srv/assets/**"), out);
    assertTrue(out.contains("deny   /srv/assets/private/key\n       rule \"render-assets\" (" + p + ":2:5) denies it with pattern /srv/assets/private/**"), out);
    assertTrue(out.contains("deny   /etc/passwd\n       no rule that applies to this caller allows it (default deny)"), out);
    assertTrue(out.contains("bad    /srv/assets/../etc/passwd\n       the broker answers bad_request: path has a '..' component"), out);

    fdbroker("explain", "--config", p.toString(), "--uid", "nobody", "/srv/assets/a/b/c").assertExit(0);
    assertEquals(2, fdbroker("explain", "--config", p.toString(), "--uid", "4000000", "/srv/assets/x").exit(),
        "a uid without a passwd entry needs --gid");
    fdbroker("explain", "--config", p.toString(), "--uid", "4000000", "--gid", "1", "/srv/assets/x").assertExit(1);
  }

  @Test
  void serveNeverReplacesAFileThatIsNotAStaleSocket() throws Exception {
    Path p = policy("serve.yaml", "rules: []\n");
    Path regular = Files.writeString(dir.resolve("not-a-socket"), "precious");
    ItSupport.Result r = fdbroker("serve", "--config", p.toString(), "--socket", regular.toString());
    assertTrue(r.exit() != 0);
    assertTrue(r.stderr().contains("not a socket; refusing to replace it"), r.stderr());
    assertEquals("precious", Files.readString(regular));

    Path live = dir.resolve("live.sock");
    try (AFUNIXServerSocket other = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(live), true)) {
      ItSupport.Result busy = fdbroker("serve", "--config", p.toString(), "--socket", live.toString());
      assertTrue(busy.exit() != 0);
      assertTrue(busy.stderr().contains("another process is already serving"), busy.stderr());
    }
  }

  @Test
  void serveReplacesAStaleSocketAndRemovesItsOwnOnExit() throws Exception {
    Path p = policy("stale.yaml", "rules: []\n");
    Path stale = dir.resolve("stale.sock");
    AFUNIXServerSocket old = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(stale), false);
    old.close(); // leaves the socket file behind, with nobody listening
    assertTrue(Files.exists(stale));
    try (BrokerProcess broker = BrokerProcess.start(p, stale)) {
      assertTrue(broker.log().contains("serving " + stale), broker.log());
      assertEquals("rw-rw-rw-", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(stale)));
    }
    assertTrue(Files.notExists(stale), "the broker removes its socket when it stops");
  }

  @Test
  void serveAppliesTheSocketModeAndRefusesABadConfig() throws Exception {
    Path p = policy("mode.yaml", "rules: []\n");
    Path sock = dir.resolve("mode.sock");
    ProcessBuilder pb = new ProcessBuilder(ItSupport.java(), "-jar", ItSupport.brokerJar().toString(), "serve",
        "--config", p.toString(), "--socket", sock.toString(), "--socket-mode", "0600");
    Process proc = pb.redirectErrorStream(true).redirectOutput(dir.resolve("mode.log").toFile()).start();
    try {
      for (int i = 0; i < 300 && !Files.exists(sock); i++) {
        Thread.sleep(50);
      }
      Thread.sleep(100);
      assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)));
    } finally {
      proc.destroy();
      proc.waitFor();
    }
    Path bad = policy("broken.yaml", "rules:\n  - name: x\n    users: [nobody]\n    allow: [relative/path]\n");
    ItSupport.Result r = fdbroker("serve", "--config", bad.toString(), "--socket", dir.resolve("never.sock").toString());
    assertEquals(2, r.exit());
    assertTrue(r.stderr().contains(bad + ":4:13: rules[0].allow[0]: pattern must be an absolute path"), r.stderr());
    assertTrue(Files.notExists(dir.resolve("never.sock")));
  }
}
