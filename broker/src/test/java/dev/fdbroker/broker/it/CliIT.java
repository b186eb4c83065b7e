package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
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
    assertEquals(p + ":6:21: rules[1].users[1]: unknown user \"no-such-user-here\"\n"
        + p + ": 1 error, 0 warnings\n", r.stderr());

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
  void checkConfigReportsEveryErrorInEveryFileAndWarningsThatDoNotFailIt() throws Exception {
    Path d = Files.createDirectories(dir.resolve("every/policy.d"));
    Files.writeString(d.resolve("10-worker.yaml"), "rules:\n  - name: dup\n    users: [nobody]\n    allow: [\"/proc/**\"]\n");
    Files.writeString(d.resolve("20-other.yaml"), "rules:\n  - name: other\n    users: [no-such-user-q]\n"
        + "    allow: [\"/srv/a**\"]\n");
    Path p = Files.writeString(dir.resolve("every/policy.yaml"), "include: policy.d\nrules:\n  - name: dup\n"
        + "    groups: [no-such-group-q]\n    allow: [\"/srv/{a,b}\"]\n");
    ItSupport.Result r = fdbroker("check-config", p.toString());
    assertEquals(2, r.exit(), r.stderr());
    assertEquals(List.of(
        p + ":4:14: rules[0].groups[0]: unknown group \"no-such-group-q\"",
        d.resolve("10-worker.yaml") + ":2:11: rules[0].name: duplicate rule name \"dup\" (first at " + p + ":3:11)",
        d.resolve("20-other.yaml") + ":3:13: rules[0].users[0]: unknown user \"no-such-user-q\"",
        d.resolve("20-other.yaml") + ":4:13: rules[0].allow[0]: '**' must be a whole path component (as in /a/**/b), "
            + "not part of \"a**\"",
        p + ":5:13: rules[0].allow[0]: warning: '{' matches itself here, not as in a shell glob (only '*' and '**' "
            + "are wildcards)",
        d.resolve("10-worker.yaml") + ":4:13: rules[0].allow[0]: warning: allows files under /proc: many files there "
            + "look like regular files (/proc/PID/environ, /proc/PID/mem) and would be opened with the broker's rights",
        p + ": 4 errors, 2 warnings"), r.stderr().lines().toList());

    Path fine = policy("warned.yaml", "rules: [{name: all, users: ['*'], allow: ['/**']}]\n");
    ItSupport.Result w = fdbroker("check-config", fine.toString()).assertExit(0);
    assertEquals(fine + ": OK (1 rule, 2 warnings)\n", w.stdout());
    assertTrue(w.stderr().contains("warning: matches every path on the host"), w.stderr());
  }

  @Test
  void explainTakesGroupsAUnitAndChecksTheFiles() throws Exception {
    Path tree = ItSupport.worldReadableTempDir("explain-files");
    try {
      Path mine = ItSupport.write(tree.resolve("home/nobody/public/mine.txt"), "mine", "rw-r--r--");
      Files.setOwner(mine, mine.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody"));
      ItSupport.write(tree.resolve("home/nobody/public/roots.txt"), "root's", "rw-r--r--");
      Files.createSymbolicLink(tree.resolve("home/nobody/public/link"), mine);
      Files.createDirectories(tree.resolve("srv/tenants/t1/dir"));
      Path p = policy("identity.yaml", "rules:\n"
          + "  - name: homes\n    groups: [audio]\n    owner: caller\n"
          + "    allow: [\"" + tree + "/home/${user}/public/**\"]\n"
          + "  - name: tenants\n    units: [\"render-worker@*.service\"]\n"
          + "    allow: [\"" + tree + "/srv/tenants/${instance}/**\"]\n");
      String pub = tree + "/home/nobody/public/";
      ItSupport.Result r = fdbroker("explain", "--config", p.toString(), "--uid", "nobody", "--groups", "audio,0",
          "--unit", "render-worker@t1.service", "--check-files", pub + "mine.txt", pub + "roots.txt", pub + "link",
          pub + "absent", tree + "/srv/tenants/t1/dir", tree + "/srv/tenants/t2/x");
      assertEquals(1, r.exit(), r.stderr());
      List<String> out = r.stdout().lines().toList();
      assertEquals("caller: uid 65534 (nobody), gid 65534 (nogroup), groups 0 (root), 29 (audio), unit "
          + "render-worker@t1.service", out.get(0));
      assertEquals("rules that apply: homes, tenants", out.get(1));
      String text = r.stdout();
      assertTrue(text.contains("allow  " + pub + "mine.txt\n       rule \"homes\" (" + p + ":2:5) allows it with pattern "
          + tree + "/home/${user}/public/** if the caller owns the file (owner: caller)\n"
          + "       the broker would answer: granted (a regular file of 4 bytes, owned by uid 65534)"), text);
      assertTrue(text.contains("the broker would answer: denied (not allowed by policy: the rule allows only files the caller owns)"), text);
      assertTrue(text.contains("the broker would answer: symlink ("), text);
      assertTrue(text.contains("the broker would answer: not_found ("), text);
      assertTrue(text.contains("the broker would answer: not_regular (not a regular file: it is a directory)"), text);
      assertTrue(text.contains("deny   " + tree + "/srv/tenants/t2/x\n       no rule that applies"), text);

      ItSupport.Result noGroups = fdbroker("explain", "--config", p.toString(), "--uid", "nobody", "--groups", "",
          pub + "mine.txt");
      assertEquals(1, noGroups.exit(), "without audio and a unit no rule applies: " + noGroups.stdout());
      assertTrue(noGroups.stdout().contains("no supplementary groups, no unit\nno rule applies to this caller"),
          noGroups.stdout());
    } finally {
      ItSupport.deleteTree(tree);
    }
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

  /**
   * The one line a serve that cannot start logs, without its timestamp and level: an operator's
   * error is never a stack trace.
   */
  static String oneErrorLine(ItSupport.Result r) {
    assertTrue(r.stderr().matches("\\S+ ERROR +ServeCommand: [^\n]*\n"), "one error line, no stack trace:\n" + r.stderr());
    assertEquals("", r.stdout());
    return r.stderr().substring(r.stderr().indexOf("ServeCommand: ") + "ServeCommand: ".length(), r.stderr().length() - 1);
  }

  @Test
  void serveNeverReplacesAFileThatIsNotAStaleSocket() throws Exception {
    Path p = policy("serve.yaml", "rules: []\n");
    Path regular = Files.writeString(dir.resolve("not-a-socket"), "precious");
    ItSupport.Result r = fdbroker("serve", "--config", p.toString(), "--socket", regular.toString());
    assertEquals(2, r.exit(), r.stderr());
    assertEquals(regular + " exists and is not a socket; refusing to replace it", oneErrorLine(r));
    assertEquals("precious", Files.readString(regular));

    Path live = dir.resolve("live.sock");
    try (AFUNIXServerSocket other = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(live), true)) {
      ItSupport.Result busy = fdbroker("serve", "--config", p.toString(), "--socket", live.toString());
      assertEquals(1, busy.exit(), "the command line is right; the socket is taken: " + busy.stderr());
      assertEquals("another process is already serving " + live, oneErrorLine(busy));
    }
  }

  @Test
  void anUnknownSocketGroupIsAUsageErrorAndLeavesNoSocket() throws Exception {
    Path p = policy("group.yaml", "rules: []\n");
    Path sock = dir.resolve("group.sock");
    ItSupport.Result r = fdbroker("serve", "--config", p.toString(), "--socket", sock.toString(),
        "--socket-group", "nosuchgroup");
    assertEquals(2, r.exit(), r.stderr());
    assertEquals("--socket-group: unknown group \"nosuchgroup\"", oneErrorLine(r));
    assertTrue(Files.notExists(sock, LinkOption.NOFOLLOW_LINKS), "no socket file left behind");
  }

  @Test
  void aSocketPathThatCannotBeUsedIsOneLineAndAUsageError() throws Exception {
    Path p = policy("where.yaml", "rules: []\n");
    ItSupport.Result missing = fdbroker("serve", "--config", p.toString(), "--socket", "/nonexistent/dir/x.sock");
    assertEquals(2, missing.exit(), missing.stderr());
    assertEquals("socket directory /nonexistent/dir does not exist", oneErrorLine(missing));

    Path open = Files.createDirectories(dir.resolve("open"));
    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
    ItSupport.Result unsafe = fdbroker("serve", "--config", p.toString(), "--socket", open.resolve("x.sock").toString());
    assertEquals(2, unsafe.exit(), unsafe.stderr());
    assertTrue(oneErrorLine(unsafe).startsWith("socket directory " + open + " is writable by group or others (mode 777)"),
        unsafe.stderr());

    Path tooLong = dir.resolve("x".repeat(120) + ".sock");
    ItSupport.Result longPath = fdbroker("serve", "--config", p.toString(), "--socket", tooLong.toString());
    assertEquals(2, longPath.exit(), longPath.stderr());
    assertEquals("socket path " + tooLong + " is " + tooLong.toString().length()
        + " bytes long; a unix socket's path can have at most 107", oneErrorLine(longPath));

    ItSupport.Result root = fdbroker("serve", "--config", p.toString(), "--socket", "/");
    assertEquals(2, root.exit(), root.stderr());
    assertEquals("socket path / names no file", oneErrorLine(root));
  }

  @Test
  void aSocketTheBrokersUserCannotMakeIsOneLineAndLeavesNoSocket() throws Exception {
    Assumptions.assumeTrue(ItSupport.isRoot(), "runs the broker as nobody");
    Path p = policy("nobody.yaml", "rules: []\n");
    Path rootsDir = Files.createDirectories(dir.resolve("roots"));
    ItSupport.Result notWritable = asNobody("serve", "--config", p.toString(), "--socket", rootsDir.resolve("x.sock").toString());
    assertEquals(2, notWritable.exit(), notWritable.stderr());
    assertEquals("socket directory " + rootsDir + " is not writable by the broker (uid 65534)", oneErrorLine(notWritable));

    // Bound, then the group cannot be given to it (nobody is not in root's group): the socket,
    // mode 0666 for now, must not stay behind.
    Path nobodysDir = Files.createDirectories(dir.resolve("nobodys"));
    Files.setAttribute(nobodysDir, "unix:uid", (int) ItSupport.NOBODY);
    Path sock = nobodysDir.resolve("x.sock");
    ItSupport.Result chgrp = asNobody("serve", "--config", p.toString(), "--socket", sock.toString(), "--socket-group", "root");
    assertEquals(2, chgrp.exit(), chgrp.stderr());
    assertEquals("cannot give socket " + sock + " to group root: Operation not permitted", oneErrorLine(chgrp));
    assertTrue(Files.notExists(sock, LinkOption.NOFOLLOW_LINKS), "no socket file left behind");
  }

  static ItSupport.Result asNobody(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ItSupport.java(), "-jar", ItSupport.brokerJar().toString()));
    cmd.addAll(List.of(args));
    return ItSupport.run(ItSupport.asUser(ItSupport.NOBODY, ItSupport.NOGROUP, cmd), Duration.ofSeconds(60));
  }

  @Test
  void aFailureAfterBindingRemovesTheSocket() throws Exception {
    Path sock = dir.resolve("after.sock");
    Path unixMetrics = policy("metrics-dir.yaml", "metrics: {listen: \"unix:/nonexistent/m.sock\"}\nrules: []\n");
    ItSupport.Result r = fdbroker("serve", "--config", unixMetrics.toString(), "--socket", sock.toString());
    assertEquals(2, r.exit(), "the policy names an unusable place: " + r.stderr());
    assertEquals("metrics.listen: socket directory /nonexistent does not exist", oneErrorLine(r));
    assertTrue(Files.notExists(sock, LinkOption.NOFOLLOW_LINKS), "the broker's socket is removed");

    try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      String listen = "127.0.0.1:" + taken.getLocalPort();
      Path tcpMetrics = policy("metrics-port.yaml", "metrics: {listen: \"" + listen + "\"}\nrules: []\n");
      ItSupport.Result busy = fdbroker("serve", "--config", tcpMetrics.toString(), "--socket", sock.toString());
      assertEquals(1, busy.exit(), "the port is taken: " + busy.stderr());
      assertEquals("metrics.listen: cannot listen on " + listen + ": Address already in use", oneErrorLine(busy));
      assertTrue(Files.notExists(sock, LinkOption.NOFOLLOW_LINKS), "the broker's socket is removed");
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
  void serveWarnsOnceWhenAUserNamespaceHidesCallers() throws Exception {
    Assumptions.assumeTrue(ItSupport.run(List.of("unshare", "--user", "--map-root-user", "true"),
        Duration.ofSeconds(10)).exit() == 0, "needs util-linux's unshare and user namespaces");
    Path p = policy("userns.yaml", "rules: []\n");
    try (BrokerProcess host = BrokerProcess.start(p, dir.resolve("host.sock"))) {
      assertEquals(List.of(), warnings(host.log()), host.log());
    }
    try (BrokerProcess inside = BrokerProcess.start(p, dir.resolve("userns.sock"), java.util.Map.of(),
        List.of("unshare", "--user", "--map-root-user"))) {
      List<String> warnings = warnings(inside.log());
      assertEquals(1, warnings.size(), inside.log());
      assertTrue(warnings.get(0).contains("user namespace (uid_map \"0 0 1\", gid_map \"0 0 1\")"), warnings.get(0));
      assertTrue(warnings.get(0).contains("65534"), warnings.get(0));
    }
  }

  static List<String> warnings(String log) {
    return log.lines().filter(l -> l.contains(" WARN ")).toList();
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
