package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Real kernel identities for the tests of who a caller is: users and groups in the system's
 * database (made if missing, and left for the next run, as HostBroker leaves its fdbroker user),
 * callers with supplementary groups, and systemd-like cgroups on the cgroup v2 hierarchy that a
 * caller is put in before it connects.
 */
final class Identities {
  /** Where cgroup v2 is mounted: the unified hierarchy of a hybrid host, or the whole of a v2 one. */
  static final Path CGROUP2 = Files.exists(Path.of("/sys/fs/cgroup/unified/cgroup.procs"))
      ? Path.of("/sys/fs/cgroup/unified") : Path.of("/sys/fs/cgroup");

  private Identities() {}

  /** A user or group as the database has it. */
  record Id(String name, long id) {}

  /** A user: its uid and primary gid. */
  record User(String name, long uid, long gid) {}

  /** The group {@code name}, made if missing. */
  static Id group(String name) throws Exception {
    if (getent("group", name) == null) {
      ItSupport.run(List.of("groupadd", "--system", name), Duration.ofSeconds(30)).assertExit(0);
    }
    return new Id(name, Long.parseLong(getent("group", name).split(":")[2]));
  }

  /**
   * The user {@code name} with its own primary group, made if missing, and a member of {@code
   * supplementary} in the group database (what setpriv --init-groups reads).
   */
  static User user(String name, String... supplementary) throws Exception {
    if (getent("passwd", name) == null) {
      ItSupport.run(List.of("useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
          "--shell", "/usr/sbin/nologin", name), Duration.ofSeconds(30)).assertExit(0);
    }
    for (String g : supplementary) {
      ItSupport.run(List.of("usermod", "--append", "--groups", g, name), Duration.ofSeconds(30)).assertExit(0);
    }
    String[] f = getent("passwd", name).split(":");
    return new User(name, Long.parseLong(f[2]), Long.parseLong(f[3]));
  }

  /** The entry's line, or null if there is none. */
  static String getent(String database, String key) throws Exception {
    ItSupport.Result r = ItSupport.run(List.of("getent", database, key), Duration.ofSeconds(10));
    return r.exit() == 0 ? r.stdout().trim() : null;
  }

  /**
   * The command, run as {@code uid}/{@code gid} with exactly the supplementary groups given (none if
   * empty) and no capabilities. The groups are passed in the order given: the kernel sorts them.
   */
  static List<String> as(long uid, long gid, List<Long> groups, List<String> command) {
    List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=" + uid, "--regid=" + gid));
    cmd.add(groups.isEmpty() ? "--clear-groups"
        : "--groups=" + String.join(",", groups.stream().map(String::valueOf).toList()));
    cmd.addAll(List.of("--inh-caps=-all", "--no-new-privs", "--"));
    cmd.addAll(command);
    return cmd;
  }

  /** As {@link #as}, with the user's own groups from the group database (initgroups). */
  static List<String> asWithInitGroups(User u, List<String> command) {
    List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=" + u.uid(), "--regid=" + u.gid(), "--init-groups",
        "--inh-caps=-all", "--no-new-privs", "--"));
    cmd.addAll(command);
    return cmd;
  }

  /**
   * The command, run from inside {@code cgroup}: a root shell moves itself there, then execs it (so
   * that the process that connects is the one in the cgroup, as a service's main process is).
   */
  static List<String> inCgroup(Path cgroup, List<String> command) {
    List<String> cmd = new ArrayList<>(List.of("sh", "-c", "echo $$ > \"$1/cgroup.procs\" && shift && exec \"$@\"",
        "sh", cgroup.toString()));
    cmd.addAll(command);
    return cmd;
  }

  /**
   * Cgroups on the v2 hierarchy, named by their path under it (such as
   * {@code system.slice/render-worker@tenant1.service}); {@link #close} moves every process out of
   * the ones it made and removes them, deepest first.
   */
  static final class Cgroups implements AutoCloseable {
    private final List<Path> made = new ArrayList<>();

    Path make(String relative) throws IOException {
      Path dir = CGROUP2;
      for (Path part : Path.of(relative)) {
        dir = dir.resolve(part.toString());
        if (!Files.isDirectory(dir)) {
          Files.createDirectory(dir);
          made.add(dir);
        }
      }
      return dir;
    }

    @Override
    public void close() throws IOException {
      List<Path> deepestFirst = made.stream().sorted(Comparator.comparingInt(Path::getNameCount).reversed()).toList();
      for (Path dir : deepestFirst) {
        for (int attempt = 0; attempt < 50 && Files.isDirectory(dir); attempt++) {
          for (String pid : Files.readAllLines(dir.resolve("cgroup.procs"))) {
            try {
              Files.writeString(CGROUP2.resolve("cgroup.procs"), pid);
            } catch (IOException gone) {
              // it exited meanwhile
            }
          }
          try {
            Files.delete(dir); // rmdir: refused while a process (or a child cgroup) is in it
          } catch (IOException busy) {
            try {
              Thread.sleep(100);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              return;
            }
          }
        }
      }
      made.clear();
    }
  }

  /** Whether cgroup v2 is mounted here and can be written (cgroups made, processes moved). */
  static boolean cgroupsWritable() {
    return Files.isWritable(CGROUP2.resolve("cgroup.procs"));
  }

  /**
   * Runs the Python probe with {@code command} before it (setpriv, a cgroup wrapper) against
   * {@code socket}, one request asking for {@code paths}; returns its report.
   */
  static JsonNode probe(Path dir, Path socket, List<String> prefix, List<String> paths) throws Exception {
    Path probe = dir.resolve("probe.py");
    if (!Files.exists(probe)) {
      ItSupport.installProbe(dir);
    }
    String requests = Fixture.JSON.writeValueAsString(List.of(Map.of("id", 1, "op", "open", "paths", paths)));
    List<String> cmd = new ArrayList<>(prefix);
    cmd.addAll(List.of(ItSupport.python(), probe.toString(), socket.toString(), requests));
    ItSupport.Result r = ItSupport.run(cmd, Duration.ofSeconds(60)).assertExit(0);
    JsonNode report = Fixture.JSON.readTree(r.stdout());
    assertEquals(paths.size(), report.at("/replies/0/reply/files").size(), report.toString());
    return report;
  }

  /** Each path's answer in a probe's report: "ok" and the file's text, or the error code. */
  static List<String> answers(JsonNode report) {
    List<String> out = new ArrayList<>();
    JsonNode files = report.at("/replies/0/reply/files");
    for (JsonNode f : files) {
      if (f.get("ok").asBoolean()) {
        JsonNode fd = report.at("/replies/0/fds/" + f.get("fd").asInt());
        out.add("ok:" + new String(java.util.Base64.getDecoder().decode(fd.get("content_b64").asText()),
            java.nio.charset.StandardCharsets.UTF_8).trim());
      } else {
        out.add(f.get("error").asText());
      }
    }
    return out;
  }

  /** Files in {@code root}, each readable by its owner only, so only the broker's descriptor can read it. */
  static void ownerOnlyFiles(Path root, Map<String, String> pathToContent) throws IOException {
    for (Map.Entry<String, String> e : pathToContent.entrySet()) {
      ItSupport.write(root.resolve(e.getKey()), e.getValue() + "\n", "rw-------");
    }
  }

  static void chown(Path p, String owner) throws Exception {
    ItSupport.run(List.of("chown", owner, p.toString()), Duration.ofSeconds(10)).assertExit(0);
  }

  /** Every line of an audit file that names {@code path}, parsed; waits up to 20 s for at least one. */
  static List<JsonNode> auditLinesFor(Path audit, String path) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (true) {
      List<JsonNode> found = new ArrayList<>();
      if (Files.exists(audit)) {
        try (Stream<String> lines = Files.lines(audit)) {
          for (String line : lines.toList()) {
            JsonNode n = Fixture.JSON.readTree(line);
            if (path.equals(n.path("path").asText())) {
              found.add(n);
            }
          }
        }
      }
      if (!found.isEmpty() || System.nanoTime() > deadline) {
        assertTrue(!found.isEmpty(), "no audit line for " + path + " in " + audit);
        return found;
      }
      Thread.sleep(50);
    }
  }
}
