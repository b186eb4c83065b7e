package dev.fdbroker.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.fdbroker.broker.it.UnitFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
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
 * file to an unprivileged member of fdbroker-clients, also through the clients the package installs
 * for workers (a Java 17 program built against the installed jar alone, and Python's {@code import
 * fdbroker}). Then dpkg removes it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PackagingIT {
  private static final Path SERVICE = Path.of("/lib/systemd/system/fdbroker.service");
  private static final Path SOCKET_UNIT = Path.of("/lib/systemd/system/fdbroker.socket");
  private static final Path POLICY = Path.of("/etc/fdbroker/policy.yaml");
  private static final Path AUDIT = Path.of("/var/log/fdbroker/audit.jsonl"); // made by tmpfiles.d, owned by fdbroker
  private static final String INSTALLED_JUNIXSOCKET = "/usr/lib/fdbroker/libjunixsocket-native.so";
  private static final Path CLIENT_JAR = Path.of("/usr/share/java/fdbroker-client.jar");
  private static final Path PYTHON_MODULE = Path.of("/usr/lib/python3/dist-packages/fdbroker.py");
  private static final Path JAVADOC = Path.of("/usr/share/doc/fdbroker/api");
  private static final String SECRET = "only root may read this\n";
  /**
   * A worker in as few lines as will do: ping, read a file, be refused another, then say which
   * copy of junixsocket's native library it loaded. Java 17.
   */
  private static final String JAVA_WORKER = """
      import dev.fdbroker.client.BrokeredFile;
      import dev.fdbroker.client.FdBrokerClient;
      import java.nio.charset.StandardCharsets;
      import java.nio.file.AccessDeniedException;
      import java.nio.file.Files;
      import java.nio.file.Path;

      public class Worker {
        public static void main(String[] args) throws Exception {
          System.out.println("java " + Runtime.version().feature());
          try (FdBrokerClient client = FdBrokerClient.connect(Path.of(args[0]))) {
            System.out.println("ping protocol " + client.ping().protocolVersion());
            try (BrokeredFile file = client.open(args[1])) {
              System.out.println("read " + new String(file.readAllBytes(), StandardCharsets.UTF_8).trim());
            }
            try {
              client.open(args[2]).close();
              System.out.println("opened " + args[2]);
            } catch (AccessDeniedException e) {
              System.out.println("denied " + e.getClass().getSimpleName() + " " + e.getFile());
            }
          }
          for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            if (line.contains("libjunixsocket-native")) {
              System.out.println("native " + line.substring(line.indexOf('/')).replace(" (deleted)", ""));
              break;
            }
          }
        }
      }
      """;
  private Path deb;
  private Path dir;

  record Result(int exit, String out, String err) {
    Result ok() {
      assertEquals(0, exit, "exit " + exit + "\nstdout:\n" + out + "\nstderr:\n" + err);
      return this;
    }
  }

  static Result run(List<String> cmd) throws IOException, InterruptedException {
    return run(new ProcessBuilder(cmd));
  }

  /**
   * Runs {@code cmd} in {@code cwd}, without the environment's Python variables: which fdbroker
   * module Python imports, and where its bytecode goes, are the tests' business.
   */
  static Result runIn(Path cwd, List<String> cmd) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile());
    for (String v : List.of("PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "PYTHONSAFEPATH")) {
      pb.environment().remove(v);
    }
    return run(pb);
  }

  private static Result run(ProcessBuilder pb) throws IOException, InterruptedException {
    List<String> cmd = pb.command();
    Process p = pb.start();
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

  /**
   * A file only root may read, and the policy the tests' worker runs under: nobody may open any
   * {@code *.txt} in the test's directory (and nothing else).
   */
  private Path secretForNobody() throws Exception {
    Path secret = Files.writeString(dir.resolve("secret.txt"), SECRET);
    Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
    Files.writeString(POLICY, "metrics: {listen: systemd}\naudit: {output: " + AUDIT + "}\n"
        + "rules:\n  - name: workers\n    users: [nobody]\n    allow: [\"" + dir + "/*.txt\"]\n");
    run("/usr/bin/fdbroker", "check-config", POLICY.toString()).ok();
    return secret;
  }

  /** Runs {@code cmd} in the test's directory as the tests' worker: nobody, in fdbroker-clients. */
  private Result asClient(List<String> cmd) throws Exception {
    String clients = run("getent", "group", "fdbroker-clients").ok().out().split(":")[2];
    List<String> full = new ArrayList<>(List.of("setpriv", "--reuid=nobody", "--regid=nogroup", "--groups=" + clients, "--"));
    full.addAll(cmd);
    return runIn(dir, full);
  }

  /** The bytecode Python wrote for the installed module, if any. */
  private static List<Path> pythonBytecode() throws IOException {
    Path cache = PYTHON_MODULE.resolveSibling("__pycache__");
    if (!Files.isDirectory(cache)) {
      return List.of();
    }
    try (var files = Files.list(cache)) {
      return files.filter(f -> f.getFileName().toString().startsWith("fdbroker.")).toList();
    }
  }

  /**
   * The installed broker, run as fdbroker.service runs it (the unit's user, capabilities and
   * command, read from the installed unit file) under systemd-socket-activate, on the socket of
   * fdbroker.socket (its owner, group and mode set as systemd sets them) and on one for
   * fdbroker-metrics.socket (any free port: the unit's 127.0.0.1:9464 may be taken).
   */
  static final class InstalledBroker implements AutoCloseable {
    final Process process;
    final Path socket;
    final int metricsPort;
    private final Path log;

    private InstalledBroker(Process process, Path socket, int metricsPort, Path log) {
      this.process = process;
      this.socket = socket;
      this.metricsPort = metricsPort;
      this.log = log;
    }

    static InstalledBroker start(Path dir) throws Exception {
      Map<String, String> service = UnitFile.section(SERVICE, "Service");
      Map<String, String> socketUnit = UnitFile.section(SOCKET_UNIT, "Socket");
      Path socket = Path.of(socketUnit.get("ListenStream"));
      Files.createDirectories(socket.getParent());
      Files.deleteIfExists(socket);
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
      Path log = Files.createTempFile(dir, "broker-", ".log");
      Process process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
      InstalledBroker broker = new InstalledBroker(process, socket, metricsPort, log);
      try {
        for (int i = 0; i < 200 && !Files.exists(socket); i++) {
          Thread.sleep(20);
        }
        // What systemd does with SocketUser=, SocketGroup=, SocketMode=.
        run("chown", socketUnit.get("SocketUser") + ":" + socketUnit.get("SocketGroup"), socket.toString()).ok();
        run("chmod", socketUnit.get("SocketMode"), socket.toString()).ok();
        return broker;
      } catch (Exception | AssertionError e) {
        broker.close();
        throw e;
      }
    }

    /** What the broker has logged so far, for a failure's message. */
    String log() throws IOException {
      return "\nbroker log:\n" + Files.readString(log);
    }

    /** Stops it as systemd does, with SIGTERM, and expects a clean exit. */
    void stop() throws Exception {
      run("kill", "-TERM", Long.toString(process.pid())).ok();
      assertTrue(process.waitFor(30, TimeUnit.SECONDS), "the broker stops on SIGTERM" + log());
      assertEquals(0, process.exitValue(), log());
    }

    @Override
    public void close() throws Exception {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
      Files.deleteIfExists(socket);
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
    Path secret = secretForNobody();
    try (InstalledBroker broker = InstalledBroker.start(dir)) {
      Path socket = broker.socket;
      Path probe = dir.resolve("probe.py");
      Files.copy(Path.of(System.getProperty("fdbroker.test.python"), "probe.py"), probe);
      Files.setPosixFilePermissions(probe, PosixFilePermissions.fromString("rw-r--r--"));
      Result client = asClient(List.of("/usr/bin/python3",
          probe.toString(), socket.toString(), "[{\"op\":\"open\",\"paths\":[\"" + secret + "\"]}]", "--direct", secret.toString()));
      client.ok();
      assertTrue(client.out().contains("\"direct\": {\"" + secret + "\": \"EACCES\"}"), "nobody cannot open it alone: " + client.out());
      assertTrue(client.out().contains(Base64.getEncoder().encodeToString(SECRET.getBytes(StandardCharsets.UTF_8))),
          "but reads it through the broker: " + client.out() + "\n" + broker.log());
      assertTrue(client.out().contains("\"write_error\": \"EBADF\""), client.out());

      // Metrics come out of the socket systemd made, although the broker itself has no network.
      java.net.http.HttpResponse<String> scrape = java.net.http.HttpClient.newHttpClient().send(
          java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + broker.metricsPort + "/metrics")).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString());
      assertEquals(200, scrape.statusCode());
      assertTrue(scrape.body().contains("fdbroker_files_total{outcome=\"granted\"} 1.0"), scrape.body());
      assertTrue(scrape.body().contains("jvm_memory_used_bytes"), "the packaged runtime has what JVM metrics need");
      // And the audit file, written by the fdbroker user where the package lets it write.
      String audit = "";
      for (int i = 0; i < 100 && !audit.contains("\"rule\":\"workers\""); i++) {
        Thread.sleep(50);
        audit = Files.exists(AUDIT) ? Files.readString(AUDIT) : "";
      }
      assertTrue(audit.contains("\"decision\":\"allow\",\"rule\":\"workers\""), audit + broker.log());

      // The broker really is the unprivileged user with one capability (CAP_DAC_READ_SEARCH is bit 2).
      String status = Files.readString(Path.of("/proc", Long.toString(broker.process.pid()), "status"));
      String uid = run("id", "-u", "fdbroker").ok().out().trim();
      assertTrue(status.contains("\nUid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid + "\n"), status);
      assertTrue(status.contains("\nCapEff:\t0000000000000004\n"), status);
      assertTrue(status.contains("\nCapBnd:\t0000000000000004\n"), status);
      assertTrue(status.contains("\nNoNewPrivs:\t1\n"), status);
      // junixsocket's native library is the installed one, not a copy it wrote to a temporary file.
      List<String> junixsocket = Files.readAllLines(Path.of("/proc", Long.toString(broker.process.pid()), "maps")).stream()
          .filter(l -> l.contains("junixsocket")).map(l -> l.substring(l.lastIndexOf(' ') + 1)).distinct().toList();
      assertEquals(List.of(INSTALLED_JUNIXSOCKET), junixsocket);

      broker.stop();
    }
  }

  /**
   * The installed client jar (the version's, and the link without the version), its API
   * documentation and the Python module are the package's own files.
   */
  @Test
  @Order(5)
  void theClientsAreInThePackage() throws Exception {
    List<String> listing = run("dpkg", "-L", "fdbroker").ok().out().lines().toList();
    Path versionedJar = CLIENT_JAR.toRealPath();
    assertTrue(versionedJar.getFileName().toString().matches("fdbroker-client-[0-9][0-9.]*\\.jar"), versionedJar.toString());
    for (Path f : List.of(CLIENT_JAR, versionedJar, PYTHON_MODULE, JAVADOC.resolve("index.html"))) {
      assertTrue(listing.contains(f.toString()), f + " is in the package's listing:\n" + String.join("\n", listing));
      assertTrue(Files.isRegularFile(f), f + " is installed");
    }
    String suggests = run("dpkg-query", "-W", "-f=${Suggests}", "fdbroker").ok().out();
    assertTrue(suggests.contains("python3") && suggests.contains("java17-runtime-headless"),
        "the package suggests what runs its clients: " + suggests);
  }

  /**
   * A Java 17 worker built as a worker developer builds one: compiled by the default javac against
   * nothing but the installed jar, run by the default java with nothing but that jar and its own
   * classes, as an unprivileged member of fdbroker-clients. It pings, reads the root-only file and
   * is refused another. Run a second time with junixsocket told to unpack its library into a
   * directory of the worker's (client-lib then keeps out), it loads the copy that comes out of the
   * jar: the jar needs nothing but a Java runtime.
   */
  @Test
  @Order(5)
  void aJava17WorkerBuiltAgainstTheInstalledJarAloneReadsThroughTheBroker() throws Exception {
    assertTrue(Files.isExecutable(Path.of("/usr/bin/javac")), "needs /usr/bin/javac (openjdk-17-jdk-headless; .ci/run installs it)");
    Path secret = secretForNobody();
    Path src = Files.createDirectories(dir.resolve("java-worker/src"));
    Path classes = dir.resolve("java-worker/classes");
    Files.writeString(src.resolve("Worker.java"), JAVA_WORKER);
    run("/usr/bin/javac", "--release", "17", "-Xlint:all", "-Werror", "-cp", CLIENT_JAR.toString(), "-d", classes.toString(),
        src.resolve("Worker.java").toString()).ok();
    run("chmod", "-R", "a+rX", dir.resolve("java-worker").toString()).ok();
    Path unpacked = Files.createDirectories(dir.resolve("java-worker/native"));
    run("chown", "nobody", unpacked.toString()).ok();
    String classpath = CLIENT_JAR + ":" + classes;
    Path denied = Files.writeString(dir.resolve("denied.bin"), "not for workers\n");
    try (InstalledBroker broker = InstalledBroker.start(dir)) {
      Result installedLibrary = asClient(List.of("/usr/bin/java", "-cp", classpath, "Worker",
          broker.socket.toString(), secret.toString(), denied.toString())).ok();
      assertEquals(List.of("java 17", "ping protocol 1", "read " + SECRET.trim(), "denied AccessDeniedException " + denied,
          "native " + INSTALLED_JUNIXSOCKET), installedLibrary.out().lines().toList(), installedLibrary.err() + broker.log());

      Result ownLibrary = asClient(List.of("/usr/bin/java", "-Dorg.newsclub.net.unix.library.tmpdir=" + unpacked,
          "-cp", classpath, "Worker", broker.socket.toString(), secret.toString(), denied.toString())).ok();
      List<String> lines = ownLibrary.out().lines().toList();
      assertEquals(5, lines.size(), ownLibrary.out() + ownLibrary.err());
      assertEquals("read " + SECRET.trim(), lines.get(2));
      assertTrue(lines.get(4).startsWith("native " + unpacked + "/") && lines.get(4).contains("libjunixsocket-native-"),
          "junixsocket's library came out of the jar: " + lines.get(4));
    }
  }

  /**
   * The installed Python module is client-python/fdbroker.py, byte for byte, and is what {@code
   * import fdbroker} finds with the system's python3, for an unprivileged worker as for root (whose
   * import leaves bytecode beside it, which the package's prerm removes).
   */
  @Test
  @Order(5)
  void pythonWorkersImportTheInstalledModuleAndReadThroughTheBroker() throws Exception {
    assertEquals(-1L, Files.mismatch(Path.of(System.getProperty("fdbroker.client.python")), PYTHON_MODULE),
        PYTHON_MODULE + " is client-python/fdbroker.py");
    Path secret = secretForNobody();
    Path denied = Files.writeString(dir.resolve("denied.bin"), "not for workers\n");
    String script = String.join("\n",
        "import sys, fdbroker",
        "print(fdbroker.__file__)",
        "with fdbroker.Client(sys.argv[1], timeout=10) as broker:",
        "    print('ping protocol', broker.ping()['protocol'])",
        "    with broker.open(sys.argv[2]) as f:",
        "        print('read', f.read().decode().strip())",
        "    try:",
        "        broker.open(sys.argv[3])",
        "    except PermissionError as e:",
        "        print('denied', e.code, e.path)",
        "");
    try (InstalledBroker broker = InstalledBroker.start(dir)) {
      Result worker = asClient(List.of("/usr/bin/python3", "-c", script, broker.socket.toString(), secret.toString(), denied.toString()));
      worker.ok();
      assertEquals(List.of(PYTHON_MODULE.toString(), "ping protocol 1", "read " + SECRET.trim(), "denied denied " + denied),
          worker.out().lines().toList(), worker.err() + broker.log());
    }
    Result root = runIn(dir, List.of("/usr/bin/python3", "-c", "import fdbroker; print(fdbroker.__file__)")).ok();
    assertEquals(PYTHON_MODULE + "\n", root.out());
    assertFalse(pythonBytecode().isEmpty(), "root's import wrote bytecode for prerm to remove");
  }

  /** The Javadoc of client-lib (and the protocol classes in the jar) is installed, index and all. */
  @Test
  @Order(5)
  void theClientApiDocumentationIsInstalled() throws Exception {
    Path index = JAVADOC.resolve("index.html");
    assertTrue(Files.isRegularFile(index), index + " is installed");
    assertTrue(Files.readString(JAVADOC.resolve("element-list")).lines().toList().containsAll(
        List.of("dev.fdbroker.client", "dev.fdbroker.protocol")), "both packages of the jar are documented");
    assertTrue(Files.readString(JAVADOC.resolve("dev/fdbroker/client/FdBrokerClient.html")).contains("Opens one file through the broker"),
        "with the classes' own documentation");
  }

  @Test
  @Order(6)
  void dpkgRemovesItCleanlyAndPurgeTakesTheConfigToo() throws Exception {
    run("dpkg", "-r", "fdbroker").ok();
    for (String gone : List.of("/usr/bin/fdbroker", "/usr/lib/fdbroker", SERVICE.toString(), SOCKET_UNIT.toString(),
        CLIENT_JAR.toString(), PYTHON_MODULE.toString(), JAVADOC.toString())) {
      assertFalse(Files.exists(Path.of(gone), LinkOption.NOFOLLOW_LINKS), gone + " is removed");
    }
    if (Files.isDirectory(CLIENT_JAR.getParent())) { // dpkg removes it if the package alone put jars there
      try (var jars = Files.list(CLIENT_JAR.getParent())) {
        assertEquals(List.of(), jars.filter(j -> j.getFileName().toString().startsWith("fdbroker-client")).toList());
      }
    }
    assertEquals(List.of(), pythonBytecode(), "and so is the bytecode of the Python module");
    assertTrue(Files.exists(POLICY), "remove keeps the operator's policy (a conffile)");
    run("dpkg", "-P", "fdbroker").ok();
    assertFalse(Files.exists(POLICY), "purge removes it");
    assertFalse(Files.exists(Path.of("/var/log/fdbroker")), "and the audit logs");
    assertFalse(Files.exists(Path.of("/etc/fdbroker")));
    assertTrue(run("dpkg", "-s", "fdbroker").exit() != 0, "no longer installed");
  }
}
