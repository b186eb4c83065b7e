package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.ZipFile;

/**
 * The broker as the installed units run it, for tests of what only shows on a host: the user,
 * capabilities (ambient and bounding), no-new-privileges, RLIMIT_NOFILE, umask and view of /proc
 * (ProtectProc=invisible hides other users' processes; ProcSubset=pid) that
 * packaging/systemd/fdbroker.service gives it (read from that file, so the fixture follows the
 * unit), started by the package's launcher with its jvm.options from a staged copy of the
 * installed tree, on listening sockets that a separate process made and holds (socket_holder.py),
 * as fdbroker.socket and fdbroker-metrics.socket hold them. Those sockets outlive each broker:
 * {@link #stop}, {@link #kill} and {@link #startAgain} start the next one on the very same sockets.
 *
 * <p>Where the unit sets no LimitNOFILE, the broker gets systemd's default of 1024, soft and hard:
 * under the unit's system-call filter (~@resources) the JVM cannot raise it, and here nothing
 * else would stop it.
 */
final class HostBroker implements RunningBroker {
  static final String USER = "fdbroker";
  /** systemd's default soft RLIMIT_NOFILE for services. */
  private static final int SYSTEMD_DEFAULT_NOFILE = 1024;

  private final Path dir;
  private final Path socket;
  private final Path log;
  private final Process holder;
  private final Writer commands;
  private final LinkedBlockingQueue<String> events = new LinkedBlockingQueue<>();
  private final int metricsPort;
  private final int nofile;
  private volatile long pid;

  /** What a test may vary; the rest is the unit's. */
  record Options(boolean metricsSocket, Map<String, String> env, String socketMode, int nofile) {
    static Options defaults() {
      return new Options(false, Map.of(), "0666", 0);
    }

    Options withMetricsSocket() {
      return new Options(true, env, socketMode, nofile);
    }

    Options withEnv(String key, String value) {
      Map<String, String> e = new LinkedHashMap<>(env);
      e.put(key, value);
      return new Options(metricsSocket, e, socketMode, nofile);
    }

    /** An RLIMIT_NOFILE other than the unit's (a test of what happens at a lower one). */
    Options withNofile(int limit) {
      return new Options(metricsSocket, env, socketMode, limit);
    }
  }

  private HostBroker(Path dir, Path socket, Path log, Process holder, int metricsPort, int nofile) {
    this.dir = dir;
    this.socket = socket;
    this.log = log;
    this.holder = holder;
    this.commands = new java.io.OutputStreamWriter(holder.getOutputStream(), StandardCharsets.UTF_8);
    this.metricsPort = metricsPort;
    this.nofile = nofile;
  }

  /**
   * Holds the sockets in {@code dir} (run/fdbroker.sock, and a TCP metrics socket if asked) and
   * starts a broker on them with {@code policy}; returns once it answers a ping.
   */
  static HostBroker start(Path dir, Path policy, Options options) throws Exception {
    ensureUser();
    Path unit = ItSupport.projectRoot().resolve("packaging/systemd/fdbroker.service");
    Map<String, String> service = UnitFile.section(unit, "Service");
    Path launcher = stageInstalledTree(dir.resolve("stage"));
    Path socket = Files.createDirectories(dir.resolve("run")).resolve("fdbroker.sock");
    Path log = dir.resolve("broker.log");
    int nofile = options.nofile() > 0 ? options.nofile()
        : Integer.parseInt(service.getOrDefault("LimitNOFILE", Integer.toString(SYSTEMD_DEFAULT_NOFILE)).split(":")[0]);
    long ceiling = hardNofileLimit();
    if (nofile > ceiling) {
      // Raising a hard limit takes CAP_SYS_RESOURCE, which the machine running the tests may not
      // give even to root: the unit's limit is then tested at the highest this machine allows.
      System.out.printf("HostBroker: LimitNOFILE %d is above this machine's hard limit %d; using %d%n",
          nofile, ceiling, ceiling);
      nofile = (int) ceiling;
    }

    List<String> cmd = new ArrayList<>(List.of(ItSupport.python(),
        ItSupport.property("fdbroker.test.python").resolve("socket_holder.py").toString(),
        "--socket", socket.toString(), "--mode", options.socketMode()));
    if (options.metricsSocket()) {
      cmd.add("--metrics");
    }
    cmd.add("--");
    // The unit's /proc first (mounting takes root), then the limit, as root (a raise needs
    // privilege), then the unit's user and capabilities.
    cmd.addAll(UnitFile.procView(service));
    cmd.addAll(List.of("prlimit", "--nofile=" + nofile + ":" + nofile, "--"));
    cmd.addAll(UnitFile.privileges(service));
    cmd.addAll(List.of(launcher.toString(), "serve", "--config", policy.toString()));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(log.toFile());
    pb.environment().put("FDBROKER_LOG_LEVEL", "INFO");
    pb.environment().putAll(options.env());
    Process holder = pb.start();
    BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
    String ready = out.readLine();
    if (ready == null || !ready.startsWith("ready ")) {
      holder.destroyForcibly();
      throw new IllegalStateException("socket holder did not start: " + ready + "\n" + Files.readString(log));
    }
    HostBroker broker = new HostBroker(dir, socket, log, holder, Integer.parseInt(ready.substring(6)), nofile);
    broker.readEvents(out);
    try {
      broker.startAgain();
    } catch (Exception | Error e) {
      broker.close();
      throw e;
    }
    return broker;
  }

  /** This process's hard RLIMIT_NOFILE. */
  private static long hardNofileLimit() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
      if (line.startsWith("Max open files")) {
        String hard = line.substring("Max open files".length()).trim().split("\\s+")[1];
        return hard.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(hard);
      }
    }
    return Long.MAX_VALUE;
  }

  /** The unit's user, as sysusers.d/fdbroker.conf makes it. */
  private static void ensureUser() throws Exception {
    if (ItSupport.run(List.of("getent", "passwd", USER), Duration.ofSeconds(10)).exit() != 0) {
      ItSupport.run(List.of("useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/",
          "--shell", "/usr/sbin/nologin", "--comment", "fdbroker file broker", USER), Duration.ofSeconds(30)).assertExit(0);
    }
  }

  /**
   * The installed tree as the package lays it out, enough for its launcher: bin/fdbroker, and in
   * lib/fdbroker the jar, jvm.options, junixsocket's library and a runtime (the JDK running the
   * tests, instead of the jlink'd one). The AOT cache is left out: it only fits the jlink'd runtime.
   */
  private static Path stageInstalledTree(Path stage) throws IOException {
    Path root = ItSupport.projectRoot();
    Path lib = Files.createDirectories(stage.resolve("lib/fdbroker"));
    Path bin = Files.createDirectories(stage.resolve("bin"));
    Path launcher = Files.copy(root.resolve("packaging/bin/fdbroker"), bin.resolve("fdbroker"));
    Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.copy(root.resolve("packaging/bin/jvm.options"), lib.resolve("jvm.options"));
    Files.copy(ItSupport.brokerJar(), lib.resolve("fdbroker.jar"));
    Path javaHome = Path.of(ItSupport.java()).toRealPath().getParent().getParent();
    Files.createSymbolicLink(lib.resolve("runtime"), javaHome);
    try (ZipFile jar = new ZipFile(ItSupport.brokerJar().toFile())) {
      var entry = jar.stream()
          .filter(e -> e.getName().matches("lib/amd64-Linux-clang/jni/libjunixsocket-native-.*\\.so")).findFirst();
      if (entry.isPresent()) {
        try (InputStream in = jar.getInputStream(entry.get())) {
          Files.copy(in, lib.resolve("libjunixsocket-native.so"));
        }
      }
    }
    return launcher;
  }

  private void readEvents(BufferedReader out) {
    Thread.ofPlatform().daemon().name("socket-holder-events").start(() -> {
      try (BufferedReader r = out) {
        String line;
        while ((line = r.readLine()) != null) {
          events.add(line);
        }
      } catch (IOException e) {
        // the holder ended
      }
    });
  }

  private String awaitEvent(String prefix, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      String e = left > 0 ? events.poll(left, TimeUnit.NANOSECONDS) : null;
      if (e == null) {
        throw new AssertionError("socket holder: no \"" + prefix + "\" within " + timeout + "\n" + log());
      }
      if (e.startsWith(prefix)) {
        return e;
      }
    }
  }

  /** Starts a broker on the held sockets and waits until it answers a ping (at most 60 s: a loaded machine). */
  void startAgain() throws Exception {
    commands.write("start\n");
    commands.flush();
    pid = Long.parseLong(awaitEvent("started ", Duration.ofSeconds(10)).substring(8));
    // A connection made now waits in the held socket's backlog until the broker accepts it.
    try (RawClient c = new RawClient(socket)) {
      c.socket.setSoTimeout(60_000);
      assertEquals(true, c.request("{\"op\":\"ping\"}").get("ok").asBoolean(), log());
    } catch (IOException e) {
      throw new AssertionError("the broker did not answer: " + e + "\n" + log(), e);
    }
  }

  /** Sends SIGTERM and returns the broker's exit status once it has ended. */
  int stop() throws Exception {
    return signalAndAwaitExit("TERM");
  }

  /** Sends SIGKILL and returns once the broker has ended. */
  int kill() throws Exception {
    return signalAndAwaitExit("KILL");
  }

  private int signalAndAwaitExit(String signal) throws Exception {
    long current = pid;
    signal(signal);
    return awaitExit(current, Duration.ofSeconds(30));
  }

  /** The exit status of broker {@code brokerPid} (minus the signal that ended it), once it ends. */
  int awaitExit(long brokerPid, Duration timeout) throws InterruptedException {
    String e = awaitEvent("exited " + brokerPid + " ", timeout);
    return Integer.parseInt(e.substring(e.lastIndexOf(' ') + 1));
  }

  /** Sends SIGHUP and waits until the broker says it reloaded (or rejected) its policy. */
  void reload() throws Exception {
    long before = reloadsLogged();
    signal("HUP");
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (reloadsLogged() == before) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("no reload within 20 s\n" + log());
      }
      Thread.sleep(20);
    }
  }

  private long reloadsLogged() {
    return log().lines().filter(l -> l.contains("policy reloaded from") || l.contains("policy reload rejected")).count();
  }

  void signal(String name) throws Exception {
    ItSupport.run(List.of("kill", "-" + name, Long.toString(pid)), Duration.ofSeconds(10)).assertExit(0);
  }

  @Override
  public long pid() {
    return pid;
  }

  /** Whether the current broker is still running (not ended, nor a zombie waiting to be reaped). */
  @Override
  public boolean isAlive() {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  public Path socket() {
    return socket;
  }

  Path dir() {
    return dir;
  }

  /** The TCP port of the held metrics socket (0 if none). */
  int metricsPort() {
    return metricsPort;
  }

  /** The RLIMIT_NOFILE the broker runs with. */
  int nofile() {
    return nofile;
  }

  /** Everything the brokers started so far have written (stderr and stdout). */
  @Override
  public String log() {
    try {
      return Files.readString(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /** Stops the broker (SIGKILL: a test that wants a clean stop says so) and the socket holder. */
  @Override
  public void close() throws IOException {
    try (OutputStream ignored = holder.getOutputStream()) {
      commands.write("quit\n");
      commands.flush();
    } catch (IOException e) {
      // the holder is gone already
    }
    try {
      if (!holder.waitFor(20, TimeUnit.SECONDS)) {
        holder.destroyForcibly().waitFor();
      }
    } catch (InterruptedException e) {
      holder.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
