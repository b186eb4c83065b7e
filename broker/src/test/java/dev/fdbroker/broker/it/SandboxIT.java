package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Workers as hosts run them: a Python and a Java worker (src/test/sandbox), each as nobody inside
 * {@code bwrap --unshare-all} with only /usr, the socket's directory (read-only) and its own code
 * bound, against the broker as the unit runs it (its own user, the socket held by another process,
 * as a .socket unit holds it). Each lists its tree, stats, reads every file (one through mmap),
 * the Java worker an entry of a brokered zip through the java.nio file system, each is denied a
 * denied file; the broker is restarted while they run, and they carry on.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SandboxIT {
  private static final long NOBODY = ItSupport.NOBODY;

  private Path dir;
  private Path data;
  private Path manifest;
  private Path worker;
  private HostBroker broker;

  @BeforeAll
  void start() throws Exception {
    assumeTrue(ItSupport.isRoot(), "needs root: the workers drop to nobody, the broker to its own user");
    assertTrue(Files.isExecutable(Path.of("/usr/bin/bwrap")), "bubblewrap is missing (.ci/run installs it)");
    dir = ItSupport.worldReadableTempDir("fdbroker-sandbox-");
    data = Files.createDirectories(dir.resolve("data"));
    Map<String, String> sha = new TreeMap<>();
    Random random = new Random(12);
    sha.put("a.txt", write("a.txt", "alpha\n".getBytes(StandardCharsets.UTF_8)));
    sha.put("sub/b.txt", write("sub/b.txt", "beta\n".getBytes(StandardCharsets.UTF_8)));
    byte[] c = new byte[100_000];
    random.nextBytes(c);
    sha.put("sub/deeper/c.bin", write("sub/deeper/c.bin", c));
    byte[] big = new byte[3 << 20];
    random.nextBytes(big);
    sha.put("big.bin", write("big.bin", big));
    String zipEntry = "hello from inside the zip";
    sha.put("archive.zip", write("archive.zip", zip("inside/entry.txt", zipEntry)));
    ItSupport.write(data.resolve("secret.txt"), "not for workers\n", "rw-------");
    Files.createSymbolicLink(data.resolve("link"), data.resolve("a.txt"));
    StringBuilder m = new StringBuilder("{\n\"mmap\": \"big.bin\",\n\"zip\": \"archive.zip\",\n\"zip_entry\": \"")
        .append(zipEntry).append("\",\n\"denied\": \"secret.txt\",\n\"files\": [\"a.txt\"],\n\"sha256\": {");
    sha.forEach((k, v) -> m.append(m.charAt(m.length() - 1) == '{' ? "" : ", ").append('"').append(k).append("\": \"")
        .append(v).append('"'));
    manifest = ItSupport.write(dir.resolve("meta/manifest.json"), m.append("}\n}\n").toString(), "rw-------");
    worker = Files.createDirectories(dir.resolve("worker"));
    Path sources = ItSupport.projectRoot().resolve("broker/src/test/sandbox");
    Files.copy(sources.resolve("worker.py"), worker.resolve("worker.py"));
    Files.copy(sources.resolve("Worker.java"), worker.resolve("Worker.java"));
    Files.copy(ItSupport.projectRoot().resolve("client-python/fdbroker.py"), worker.resolve("fdbroker.py"));
    // The library jar the package installs as /usr/share/java/fdbroker-client.jar.
    Files.copy(ItSupport.projectRoot().resolve("client-lib/target/fdbroker-client-shaded.jar"),
        worker.resolve("fdbroker-client.jar"));
    try (var files = Files.list(worker)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Files.setPosixFilePermissions(p, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
      }
    }
    Path policy = Files.writeString(dir.resolve("policy.yaml"), """
        rules:
          - name: sandboxed-workers
            users: [nobody]
            allow: ["%s/**", "%s"]
            deny: ["%s/secret*"]
        """.formatted(data, manifest, data));
    broker = HostBroker.start(Files.createDirectories(dir.resolve("host")), policy, HostBroker.Options.defaults());
  }

  @AfterAll
  void stop() throws Exception {
    if (broker != null) {
      broker.close();
    }
    if (dir != null) {
      ItSupport.deleteTree(dir);
    }
  }

  private String write(String name, byte[] content) throws Exception {
    Path p = data.resolve(name);
    Files.createDirectories(p.getParent());
    Files.write(p, content);
    Files.setPosixFilePermissions(p, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
  }

  private static byte[] zip(String entry, String content) throws IOException {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    try (ZipOutputStream z = new ZipOutputStream(out)) {
      z.putNextEntry(new ZipEntry(entry));
      z.write(content.getBytes(StandardCharsets.UTF_8));
      z.closeEntry();
    }
    return out.toByteArray();
  }

  /** The worker command inside bubblewrap, as nobody, with nothing of the data bound. */
  private List<String> sandboxed(List<String> command) {
    Path socketDir = broker.socket().getParent();
    List<String> bwrap = new ArrayList<>(List.of("/usr/bin/bwrap", "--unshare-all", "--die-with-parent", "--new-session",
        "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
        "--ro-bind", socketDir.toString(), socketDir.toString(),
        "--ro-bind", worker.toString(), "/worker", "--chdir", "/worker"));
    // Debian's JDK keeps its security configuration in /etc (java.security is a link there).
    for (String etc : List.of("/etc/java-17-openjdk")) {
      if (Files.isDirectory(Path.of(etc))) {
        bwrap.addAll(List.of("--ro-bind", etc, etc));
      }
    }
    bwrap.addAll(command);
    return ItSupport.asUser(NOBODY, NOBODY, bwrap);
  }

  /** A running worker: its output lines as they come. */
  private record Running(String name, Process process, BlockingQueue<String> lines) {
    static Running start(String name, List<String> command) throws IOException {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      BlockingQueue<String> lines = new LinkedBlockingQueue<>();
      Thread.ofPlatform().daemon().start(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
          for (String line; (line = r.readLine()) != null; ) {
            lines.add(line);
          }
        } catch (IOException e) {
          lines.add("(output lost: " + e + ")");
        }
        lines.add("(end)");
      });
      return new Running(name, p, lines);
    }

    /** Waits for {@code n} more "round N ok" lines; returns every line seen meanwhile. */
    List<String> awaitRounds(int n, Duration timeout) throws InterruptedException {
      List<String> seen = new ArrayList<>();
      long deadline = System.nanoTime() + timeout.toNanos();
      int ok = 0;
      while (ok < n) {
        String line = lines.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        if (line == null || line.equals("(end)")) {
          throw new AssertionError(name + " did not finish " + n + " rounds: " + seen);
        }
        seen.add(line);
        if (line.matches("round \\d+ ok")) {
          ok++;
        }
      }
      return seen;
    }

    /** Tells it to stop; returns its report. */
    JsonNode finish() throws Exception {
      try (OutputStream in = process.getOutputStream()) {
        in.write("stop\n".getBytes(StandardCharsets.UTF_8));
      }
      assertTrue(process.waitFor(120, TimeUnit.SECONDS), name + " did not stop");
      List<String> rest = new ArrayList<>();
      for (String line; !(line = lines.take()).equals("(end)"); ) {
        rest.add(line);
      }
      assertEquals(0, process.exitValue(), name + ": " + rest);
      return Fixture.JSON.readTree(rest.get(rest.size() - 1));
    }
  }

  @Test
  void pythonAndJavaWorkersInBubblewrapReadTheirTreeAndSurviveABrokerRestart() throws Exception {
    String socket = broker.socket().toString();
    Running python = Running.start("python", sandboxed(List.of("/usr/bin/python3", "/worker/worker.py", socket,
        data.toString(), manifest.toString())));
    Running java = Running.start("java", sandboxed(List.of("/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
        "-XX:-UsePerfData", "-cp", "/worker/fdbroker-client.jar", "/worker/Worker.java", socket, data.toString(),
        manifest.toString())));
    try {
      python.awaitRounds(1, Duration.ofSeconds(60));
      java.awaitRounds(1, Duration.ofSeconds(120));
      // Restarted while both are in the middle of rounds: systemd would restart it so, its socket held.
      long before = broker.pid();
      assertEquals(0, broker.stop(), broker.log());
      broker.startAgain();
      assertTrue(broker.pid() != before);
      python.awaitRounds(3, Duration.ofSeconds(60));
      java.awaitRounds(3, Duration.ofSeconds(120));
      for (Running w : List.of(python, java)) {
        JsonNode report = w.finish();
        assertEquals("[]", report.get("errors").toString(), w.name() + ": " + report);
        assertTrue(report.get("rounds").asInt() >= 4, w.name() + ": " + report);
        assertTrue(report.get("direct").asText().contains("NoSuchFile") || report.get("direct").asText().contains("FileNotFound"),
            w.name() + " reached the data without the broker: " + report);
      }
    } finally {
      python.process().destroyForcibly();
      java.process().destroyForcibly();
    }
  }
}
