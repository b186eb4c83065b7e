package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Shared plumbing for the integration tests: real processes, real users, real files. */
final class ItSupport {
  /** The unprivileged worker in tests: nobody/nogroup, present on every Debian-like system. */
  static final long NOBODY = 65534;
  static final long NOGROUP = 65534;

  private ItSupport() {}

  /** The result of a finished process. */
  record Result(int exit, String stdout, String stderr) {
    Result assertExit(int expected) {
      assertTrue(exit == expected, "exit " + exit + " (expected " + expected + ")\nstdout:\n" + stdout + "\nstderr:\n" + stderr);
      return this;
    }
  }

  static boolean isRoot() {
    return myUid() == 0;
  }

  /** This process's uid (the owner of its /proc entry). */
  static int myUid() {
    try {
      return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static Path property(String name) {
    String v = System.getProperty(name);
    if (v == null) {
      throw new IllegalStateException("system property " + name + " is not set (run the integration tests through Maven)");
    }
    return Path.of(v).toAbsolutePath().normalize();
  }

  static Path brokerJar() {
    return property("fdbroker.jar");
  }

  static Path fdcatJar() {
    return property("fdcat.jar");
  }

  static Path projectRoot() {
    return property("fdbroker.project.root");
  }

  /** The java running these tests (JDK 25). */
  static String java() {
    return ProcessHandle.current().info().command().orElse("java");
  }

  /** A Python every user can run (pyenv shims under /root are not). */
  static String python() {
    return Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
  }

  /** A fresh directory under /tmp that an unprivileged user can enter and read. */
  static Path worldReadableTempDir(String prefix) throws IOException {
    Path dir = Files.createTempDirectory(Path.of("/tmp"), prefix,
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x"))).toRealPath();
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    return dir;
  }

  /** Copies the Python probe where an unprivileged user can read it. */
  static Path installProbe(Path dir) throws IOException {
    Path probe = dir.resolve("probe.py");
    Files.copy(property("fdbroker.test.python").resolve("probe.py"), probe);
    Files.setPosixFilePermissions(probe, PosixFilePermissions.fromString("rw-r--r--"));
    return probe;
  }

  /** The command, run as the given uid and gid with no supplementary groups and no capabilities. */
  static List<String> asUser(long uid, long gid, List<String> command) {
    List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=" + uid, "--regid=" + gid,
        "--clear-groups", "--inh-caps=-all", "--no-new-privs", "--"));
    cmd.addAll(command);
    return cmd;
  }

  static Result run(List<String> command, Duration timeout) throws IOException, InterruptedException {
    return run(command, timeout, Map.of(), null);
  }

  static Result run(List<String> command, Duration timeout, Map<String, String> env, Path cwd)
      throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().putAll(env);
    if (cwd != null) {
      pb.directory(cwd.toFile());
    }
    Process p = pb.start();
    p.getOutputStream().close();
    CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> drain(p.getInputStream()));
    CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()));
    if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("timed out after " + timeout + ": " + command + "\nstderr:\n" + err.getNow(""));
    }
    return new Result(p.exitValue(), out.join(), err.join());
  }

  private static String drain(java.io.InputStream in) {
    try (in) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }

  /** Waits until {@code counter} has grown by {@code n}, for at most 60 s. */
  static void awaitMore(java.util.concurrent.atomic.AtomicInteger counter, int n) throws InterruptedException {
    int target = counter.get() + n;
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (counter.get() < target) {
      assertTrue(System.nanoTime() < deadline, "only " + counter.get() + " done, expected " + target);
      Thread.sleep(10);
    }
  }

  static void mkfifo(Path p) throws IOException, InterruptedException {
    run(List.of("mkfifo", p.toString()), Duration.ofSeconds(10)).assertExit(0);
  }

  /** Removes a directory tree made by a test. */
  static void deleteTree(Path root) throws IOException {
    try (java.util.stream.Stream<Path> all = Files.walk(root)) {
      for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  static Path write(Path p, String content, String perms) throws IOException {
    Files.createDirectories(p.getParent());
    Files.writeString(p, content);
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(perms));
    return p;
  }
}
