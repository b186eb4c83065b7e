package dev.fdbroker.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.fdbroker.broker.it.UnitFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.TreeSet;
import java.util.Set;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The .deb on this machine, for real: dpkg installs it, systemd's own tools check the units, and
 * the installed broker runs the way fdbroker.service runs it (the unit's user, capabilities and
 * command, read from the installed unit file) under systemd-socket-activate, handing a root-only
 * file to an unprivileged member of fdbroker-clients. Then dpkg removes it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PackagingIT {
  private static final Path SERVICE = Path.of("/lib/systemd/system/fdbroker.service");
  private static final Path SOCKET_UNIT = Path.of("/lib/systemd/system/fdbroker.socket");
  private static final Path POLICY = Path.of("/etc/fdbroker/policy.yaml");
  private Path deb;
  private Path dir;

  record Result(int exit, String out, String err) {
    Result ok() {
      assertEquals(0, exit, "exit " + exit + "\nstdout:\n" + out + "\nstderr:\n" + err);
      return this;
    }
  }

  static Result run(List<String> cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).start();
    p.getOutputStream().close();
    CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> drain(p.getInputStream()));
    CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()));
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("timed out: " + cmd);
    }
    return new Result(p.exitValue(), out.join(), err.join());
  }

  static Result run(String... cmd) throws IOException, InterruptedException {
    return run(List.of(cmd));
  }

  private static String drain(java.io.InputStream in) {
    try (in) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }

  @BeforeAll
  void setUp() throws Exception {
    assumeTrue((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0, "installing a package needs root");
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/dpkg")), "needs dpkg");
    deb = Path.of(System.getProperty("fdbroker.deb"));
    assertTrue(Files.isRegularFile(deb), "the build made " + deb);
    run("dpkg", "--purge", "fdbroker"); // a leftover from an interrupted run
    dir = Files.createTempDirectory(Path.of("/tmp"), "fdbroker-pkg-");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  @AfterAll
  void tearDown() throws Exception {
    if (dir != null) {
      run("dpkg", "--purge", "fdbroker");
      run("rm", "-rf", dir.toString());
    }
  }

  @Test
  @Order(1)
  void dpkgInstallsTheBrokerItsRuntimeUnitsUsersAndDefaultPolicy() throws Exception {
    run("dpkg", "-i", deb.toString()).ok();
    for (String f : List.of("/usr/bin/fdbroker", "/usr/lib/fdbroker/fdbroker.jar", "/usr/lib/fdbroker/runtime/bin/java",
        "/usr/lib/fdbroker/jvm.options", "/usr/lib/fdbroker/fdbroker.aot", "/usr/lib/fdbroker/libjunixsocket-native.so",
        SERVICE.toString(), SOCKET_UNIT.toString(), "/lib/systemd/system/fdbroker-metrics.socket", "/usr/lib/sysusers.d/fdbroker.conf",
        "/usr/lib/tmpfiles.d/fdbroker.conf", POLICY.toString(), "/usr/share/doc/fdbroker/operations.md")) {
      assertTrue(Files.exists(Path.of(f)), f + " is installed");
    }
    assertTrue(run("dpkg-query", "-W", "-f=${Conffiles}", "fdbroker").ok().out().contains(POLICY.toString()),
        "the policy is a conffile, so upgrades keep the operator's edits");
    run("getent", "passwd", "fdbroker").ok();
    run("getent", "group", "fdbroker-clients").ok();
    Result version = run("/usr/bin/fdbroker", "--version").ok();
    assertTrue(version.out().startsWith("fdbroker "));
    assertFalse(version.err().contains("aot"), "the AOT cache built with the package fits the installed broker: " + version.err());
    // With options of the operator's own the launcher leaves the cache out (they could make the JVM
    // refuse it, and refuse to start): a larger young generation still starts.
    Result tuned = run("env", "FDBROKER_JAVA_OPTS=-Xms256m -Xmn128m", "/usr/bin/fdbroker", "--version").ok();
    assertTrue(tuned.out().startsWith("fdbroker "), tuned.err());
    assertEquals(POLICY + ": OK (0 rules)\n", run("/usr/bin/fdbroker", "check-config", POLICY.toString()).ok().out());
    Result explain = run("/usr/bin/fdbroker", "explain", "--config", POLICY.toString(), "--uid", "0", "/etc/hostname");
    assertEquals(1, explain.exit(), "the default policy denies everything: " + explain.out());
    // A worker's package drops its rules in, and the default policy takes them.
    Path dropIns = Path.of("/etc/fdbroker/policy.d");
    assertTrue(Files.isDirectory(dropIns), "the package makes the drop-in directory");
    Path dropIn = Files.writeString(dropIns.resolve("50-worker.yaml"),
        "rules: [{name: worker-hostname, users: [0], allow: [/etc/hostname]}]\n");
    try {
      assertEquals(POLICY + ": OK (1 rule)\n", run("/usr/bin/fdbroker", "check-config", POLICY.toString()).ok().out());
      Result allowed = run("/usr/bin/fdbroker", "explain", "--config", POLICY.toString(), "--uid", "0", "/etc/hostname");
      assertEquals(0, allowed.exit(), allowed.out());
      assertTrue(allowed.out().contains("rule \"worker-hostname\" (" + dropIn + ":1:9)"), allowed.out());
    } finally {
      Files.delete(dropIn);
    }
  }

  @Test
  @Order(2)
  void systemdAnalyzeVerifiesTheUnits() throws Exception {
    Result r = run("systemd-analyze", "verify", SERVICE.toString(), SOCKET_UNIT.toString(),
        "/lib/systemd/system/fdbroker-metrics.socket");
    r.ok();
    assertFalse((r.out() + r.err()).contains("fdbroker"), "no complaints about our units:\n" + r.out() + r.err());
  }

  /**
   * The unit's system-call filter lets through every call the broker makes, group by group as
   * systemd-analyze expands them, the lines taken in order as systemd takes them (the first says
   * allow-list; later ones add, or with ~ take away). open_by_handle_at, in @privileged, is how a
   * caller's unit is read: filtered, every caller's unit would be unknown.
   */
  @Test
  @Order(2)
  void theSystemCallFilterLetsThroughWhatTheBrokerCalls() throws Exception {
    Set<String> allowed = new TreeSet<>();
    for (String line : Files.readAllLines(SERVICE)) {
      if (!line.startsWith("SystemCallFilter=")) {
        continue;
      }
      String value = line.substring("SystemCallFilter=".length()).trim();
      boolean deny = value.startsWith("~");
      for (String item : value.replace("~", "").trim().split("\\s+")) {
        Set<String> calls = expand(item);
        if (deny) {
          allowed.removeAll(calls);
        } else {
          allowed.addAll(calls);
        }
      }
    }
    for (String call : List.of("openat", "openat2", "statx", "close", "close_range", "recvfrom", "sendmsg", "ioctl",
        "getsockopt", "readlinkat", "pidfd_open", "pidfd_send_signal", "open_by_handle_at", "getdents64", "lseek")) {
      assertTrue(allowed.contains(call), call + " is filtered out by fdbroker.service");
    }
    assertFalse(allowed.contains("mount"), "the rest of @privileged stays filtered");
    assertFalse(allowed.contains("setrlimit"), "@resources stays filtered");
  }

  private static Set<String> expand(String item) throws Exception {
    Set<String> calls = new TreeSet<>();
    if (!item.startsWith("@")) {
      calls.add(item);
      return calls;
    }
    Result r = run("systemd-analyze", "syscall-filter", item).ok();
    for (String l : r.out().lines().skip(1).toList()) {
      String t = l.trim();
      if (t.isEmpty() || t.startsWith("#")) {
        continue;
      }
      calls.addAll(t.startsWith("@") ? expand(t) : Set.of(t));
    }
    return calls;
  }

  @Test
  @Order(3)
  void theServiceIsRatedSafeBySystemdAnalyzeSecurity() throws Exception {
    Result r = run("systemd-analyze", "security", "--offline=true", SERVICE.toString());
    Matcher m = Pattern.compile("Overall exposure level for fdbroker.service: ([0-9.]+)").matcher(r.out());
    assertTrue(m.find(), r.out() + r.err());
    double exposure = Double.parseDouble(m.group(1));
    System.out.println("systemd-analyze security --offline=true fdbroker.service: exposure " + exposure);
    assertTrue(exposure <= 1.5, "exposure " + exposure + " is over 1.5:\n" + r.out());
  }

  @Test
  @Order(4)
  void theInstalledBrokerRunAsTheUnitRunsItHandsARootOnlyFileToAClient() throws Exception {
    Path secret = Files.writeString(dir.resolve("secret.txt"), "only root may read this\n");
    Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
    Path auditFile = Path.of("/var/log/fdbroker/audit.jsonl"); // made by tmpfiles.d, owned by fdbroker
    Files.writeString(POLICY, "metrics: {listen: systemd}\naudit: {output: " + auditFile + "}\n"
        + "rules:\n  - name: workers\n    users: [nobody]\n    allow: [\"" + dir + "/*.txt\"]\n");
    run("/usr/bin/fdbroker", "check-config", POLICY.toString()).ok();

    Map<String, String> service = UnitFile.section(SERVICE, "Service");
    Map<String, String> socketUnit = UnitFile.section(SOCKET_UNIT, "Socket");
    Path socket = Path.of(socketUnit.get("ListenStream"));
    Files.createDirectories(socket.getParent());
    Files.deleteIfExists(socket);
    // fdbroker-metrics.socket listens on 127.0.0.1:9464; any free port will do here.
    int metricsPort;
    try (java.net.ServerSocket probe = new java.net.ServerSocket(0)) {
      metricsPort = probe.getLocalPort();
    }
    Map<String, String> metricsUnit = UnitFile.section(Path.of("/lib/systemd/system/fdbroker-metrics.socket"), "Socket");
    List<String> cmd = new ArrayList<>(List.of("systemd-socket-activate", "-l", socket.toString(),
        "-l", "127.0.0.1:" + metricsPort,
        "--fdname=" + socketUnit.get("FileDescriptorName") + ":" + metricsUnit.get("FileDescriptorName"), "--"));
    cmd.addAll(UnitFile.privileges(service));
    cmd.addAll(Arrays.asList(service.get("ExecStart").split(" ")));
    Process broker = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("broker.log").toFile()).start();
    try {
      for (int i = 0; i < 200 && !Files.exists(socket); i++) {
        Thread.sleep(20);
      }
      // What systemd does with SocketUser=, SocketGroup=, SocketMode=.
      run("chown", socketUnit.get("SocketUser") + ":" + socketUnit.get("SocketGroup"), socket.toString()).ok();
      run("chmod", socketUnit.get("SocketMode"), socket.toString()).ok();

      Path probe = dir.resolve("probe.py");
      Files.copy(Path.of(System.getProperty("fdbroker.test.python"), "probe.py"), probe);
      Files.setPosixFilePermissions(probe, PosixFilePermissions.fromString("rw-r--r--"));
      String clients = run("getent", "group", "fdbroker-clients").ok().out().split(":")[2];
      Result client = run("setpriv", "--reuid=nobody", "--regid=nogroup", "--groups=" + clients, "--", "/usr/bin/python3",
          probe.toString(), socket.toString(), "[{\"op\":\"open\",\"paths\":[\"" + secret + "\"]}]", "--direct", secret.toString());
      client.ok();
      assertTrue(client.out().contains("\"direct\": {\"" + secret + "\": \"EACCES\"}"), "nobody cannot open it alone: " + client.out());
      assertTrue(client.out().contains(Base64.getEncoder().encodeToString("only root may read this\n".getBytes(StandardCharsets.UTF_8))),
          "but reads it through the broker: " + client.out() + "\n" + Files.readString(dir.resolve("broker.log")));
      assertTrue(client.out().contains("\"write_error\": \"EBADF\""), client.out());

      // Metrics come out of the socket systemd made, although the broker itself has no network.
      java.net.http.HttpResponse<String> scrape = java.net.http.HttpClient.newHttpClient().send(
          java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + metricsPort + "/metrics")).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString());
      assertEquals(200, scrape.statusCode());
      assertTrue(scrape.body().contains("fdbroker_files_total{outcome=\"granted\"} 1.0"), scrape.body());
      assertTrue(scrape.body().contains("jvm_memory_used_bytes"), "the packaged runtime has what JVM metrics need");
      // And the audit file, written by the fdbroker user where the package lets it write.
      String audit = "";
      for (int i = 0; i < 100 && !audit.contains("\"rule\":\"workers\""); i++) {
        Thread.sleep(50);
        audit = Files.exists(auditFile) ? Files.readString(auditFile) : "";
      }
      assertTrue(audit.contains("\"decision\":\"allow\",\"rule\":\"workers\""), audit + Files.readString(dir.resolve("broker.log")));

      // The broker really is the unprivileged user with one capability (CAP_DAC_READ_SEARCH is bit 2).
      String status = Files.readString(Path.of("/proc", Long.toString(broker.pid()), "status"));
      String uid = run("id", "-u", "fdbroker").ok().out().trim();
      assertTrue(status.contains("\nUid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid + "\n"), status);
      assertTrue(status.contains("\nCapEff:\t0000000000000004\n"), status);
      assertTrue(status.contains("\nCapBnd:\t0000000000000004\n"), status);
      assertTrue(status.contains("\nNoNewPrivs:\t1\n"), status);
      // junixsocket's native library is the installed one, not a copy it wrote to a temporary file.
      List<String> junixsocket = Files.readAllLines(Path.of("/proc", Long.toString(broker.pid()), "maps")).stream()
          .filter(l -> l.contains("junixsocket")).map(l -> l.substring(l.lastIndexOf(' ') + 1)).distinct().toList();
      assertEquals(List.of("/usr/lib/fdbroker/libjunixsocket-native.so"), junixsocket);

      run("kill", "-TERM", Long.toString(broker.pid())).ok();
      assertTrue(broker.waitFor(30, TimeUnit.SECONDS));
      assertEquals(0, broker.exitValue(), Files.readString(dir.resolve("broker.log")));
    } finally {
      broker.destroyForcibly();
      Files.deleteIfExists(socket);
    }
  }

  @Test
  @Order(5)
  void dpkgRemovesItCleanlyAndPurgeTakesTheConfigToo() throws Exception {
    run("dpkg", "-r", "fdbroker").ok();
    for (String gone : List.of("/usr/bin/fdbroker", "/usr/lib/fdbroker", SERVICE.toString(), SOCKET_UNIT.toString())) {
      assertFalse(Files.exists(Path.of(gone)), gone + " is removed");
    }
    assertTrue(Files.exists(POLICY), "remove keeps the operator's policy (a conffile)");
    run("dpkg", "-P", "fdbroker").ok();
    assertFalse(Files.exists(POLICY), "purge removes it");
    assertFalse(Files.exists(Path.of("/var/log/fdbroker")), "and the audit logs");
    assertFalse(Files.exists(Path.of("/etc/fdbroker")));
    assertTrue(run("dpkg", "-s", "fdbroker").exit() != 0, "no longer installed");
  }
}
