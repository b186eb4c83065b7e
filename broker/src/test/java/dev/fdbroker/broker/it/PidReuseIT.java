package dev.fdbroker.broker.it;

import static dev.fdbroker.broker.it.ItSupport.NOBODY;
import static dev.fdbroker.broker.it.ItSupport.NOGROUP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fdbroker.broker.it.Identities.Cgroups;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A recycled pid never lends its unit to another caller. The broker learns a caller's pid from
 * SO_PEERCRED, but a pid names a process only while that process lives: once it exits and is
 * reaped, the number can go to any new process, and /proc/PID/cgroup is then that process's.
 *
 * <p>Made deterministic: the broker is stopped (SIGSTOP), so connections wait in its listen
 * backlog. Process A, in tenant1's unit, connects, forks B (which keeps the connection) and exits.
 * Process C is started in tenant2's unit with A's very pid (ns_last_pid is set to A's pid - 1
 * just before the fork; tried again if something else took it). Then the broker runs again and B
 * asks, over A's connection, for tenant2's file and tenant1's. A broker that read the pid's cgroup
 * without checking that the process that connected is still alive (its pidfd, SO_PEERPIDFD) would
 * take C's unit and grant tenant2's file: it must grant neither. A caller D that connected at the
 * same time and is still alive gets tenant1's, so the stop, the backlog and the cgroups are not
 * what refuses B.
 */
class PidReuseIT {
  private static final Path NS_LAST_PID = Path.of("/proc/sys/kernel/ns_last_pid");

  /**
   * A (argv[2] "fork") connects, forks B to keep the connection, and exits; D ("stay") keeps it
   * itself. Through files in argv[3], not pipes: Java closes a process's pipes when it exits, and B
   * outlives A.
   */
  private static final String CONNECTOR = """
      import json, os, socket, struct, sys, time
      sock_path, mode, d = sys.argv[1:4]
      def put(name, text):
          with open(os.path.join(d, name + ".tmp"), "w") as f:
              f.write(text)
          os.rename(os.path.join(d, name + ".tmp"), os.path.join(d, name))
      s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
      s.connect(sock_path)
      if mode == "fork" and os.fork() > 0:
          os._exit(0)
      put("ready", str(os.getpid()))
      deadline = time.time() + 120
      while not os.path.exists(os.path.join(d, "request")):
          if time.time() > deadline:
              sys.exit("no request")
          time.sleep(0.01)
      with open(os.path.join(d, "request")) as f:
          paths = json.load(f)
      req = json.dumps({"id": 1, "op": "open", "paths": paths}).encode()
      s.sendall(struct.pack(">I", len(req)) + req)
      buf, fds = b"", []
      while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
          data, got, _, _ = socket.recv_fds(s, 65536, 16)
          if not data:
              raise EOFError("broker closed the connection")
          buf += data
          fds += got
      for fd in fds:
          os.close(fd)
      put("reply", buf[4:].decode())
      """;

  /** Sets ns_last_pid and forks C at once, C moving itself into the cgroup; kills C when stdin ends. */
  private static final String SPAWNER = """
      import os, sys, time
      target, cgroup = int(sys.argv[1]), sys.argv[2]
      with open("/proc/sys/kernel/ns_last_pid", "w") as f:
          f.write(str(target - 1))
      pid = os.fork()
      if pid == 0:
          if os.getpid() == target:
              with open(cgroup + "/cgroup.procs", "w") as f:
                  f.write(str(os.getpid()))
          os.execvp("sleep", ["sleep", "600"])
      print(pid, flush=True)
      sys.stdin.read()
      os.kill(pid, 9)
      os.waitpid(pid, 0)
      """;

  @ParameterizedTest
  @ValueSource(strings = {"test", "host"})
  void aRecycledPidNeverLendsItsUnitToTheConnectionOfTheProcessThatHadIt(String shape) throws Exception {
    assumeTrue(ItSupport.isRoot(), "needs root: sets ns_last_pid, makes cgroups, stops the broker");
    assumeTrue(Identities.cgroupsWritable(), "needs a writable cgroup v2 hierarchy at " + Identities.CGROUP2);
    assumeTrue(Files.isWritable(NS_LAST_PID), "needs a writable " + NS_LAST_PID);
    try (Scene scene = new Scene("fdbroker-pidreuse-"); Cgroups cgroups = new Cgroups()) {
      Path root = scene.root;
      ItSupport.write(root.resolve("srv/tenants/tenant1/f.txt"), "tenant1\n", "rw-------");
      ItSupport.write(root.resolve("srv/tenants/tenant2/f.txt"), "tenant2\n", "rw-------");
      Path policy = Files.writeString(root.resolve("policy.yaml"), """
          rules:
            - name: tenants
              units: ["render-worker@*.service"]
              allow: ["ROOT/srv/tenants/${instance}/**"]
          """.replace("ROOT", root.toString()));
      RunningBroker broker = scene.start(shape, policy);
      Path t1 = cgroups.make("system.slice/render-worker@tenant1.service");
      Path t2 = cgroups.make("system.slice/render-worker@tenant2.service");
      List<String> paths = List.of(root.resolve("srv/tenants/tenant2/f.txt").toString(),
          root.resolve("srv/tenants/tenant1/f.txt").toString());

      scene.stopBroker();
      Path forA = exchangeDir(root, "a");
      Path forD = exchangeDir(root, "d");
      Process a = connector(scene.started, t1, broker.socket(), "fork", forA);
      Process d = connector(scene.started, t1, broker.socket(), "stay", forD);
      long bPid = ready(forA, a);
      scene.orphan = ProcessHandle.of(bPid).orElse(null);
      ready(forD, d);
      assertTrue(a.waitFor(30, TimeUnit.SECONDS), "A exits once it has forked B");
      long aPid = a.pid();
      // B is no longer the broker's business, and the cgroups must be emptied at the end anyway.
      Files.writeString(Identities.CGROUP2.resolve("cgroup.procs"), Long.toString(bPid));

      long cPid = -1;
      for (int attempt = 0; attempt < 20 && cPid != aPid; attempt++) {
        Process spawner = new ProcessBuilder(ItSupport.python(), "-c", SPAWNER, Long.toString(aPid), t2.toString())
            .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        scene.started.add(spawner);
        cPid = Long.parseLong(new BufferedReader(new InputStreamReader(spawner.getInputStream(), StandardCharsets.UTF_8))
            .readLine().trim());
        if (cPid != aPid) {
          spawner.getOutputStream().close(); // something else took the pid first: this C is not the one
          spawner.waitFor(30, TimeUnit.SECONDS);
        }
      }
      assertEquals(aPid, cPid, "C did not get A's pid in 20 tries");
      Path cCgroup = Path.of("/proc", Long.toString(aPid), "cgroup");
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (!Files.readString(cCgroup).contains("render-worker@tenant2.service") && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      // What a broker would read for the pid SO_PEERCRED gave for A's connection: C's unit.
      assertTrue(Files.readString(cCgroup).contains("/system.slice/render-worker@tenant2.service"),
          Files.readString(cCgroup));

      scene.continueBroker();
      List<String> fromB = answers(ask(forA, paths));
      List<String> fromD = answers(ask(forD, paths));
      assertEquals(List.of("denied", "denied"), fromB, "B, holding the connection of A, whose pid is now C's");
      assertEquals(List.of("denied", "ok"), fromD, "D, alive in tenant1 since it connected");
      assertTrue(broker.isAlive(), broker.log());
    }
  }

  /**
   * A caller cannot shed its unit by vanishing. A rule that denies a unit something binds its
   * processes only if the broker learns their unit; were a connection whose connecting process is
   * gone (so that its unit cannot be read) served as a caller in no unit, a worker of that unit
   * could connect, hand the connection to a child, exit before the broker serves it, and get
   * what its unit is denied. Such a caller's unit is unknown: it is held to every deny of every
   * rule that names units, and gets no allow that needs a unit; what needs no unit it still gets.
   * A process of the unit that stays is bound by the deny and gets the rest; a process in no unit
   * gets both.
   */
  @ParameterizedTest
  @ValueSource(strings = {"test", "host"})
  void aCallerWhoseConnectingProcessIsGoneCannotShedItsUnitsDenies(String shape) throws Exception {
    assumeTrue(ItSupport.isRoot(), "needs root: makes cgroups, stops the broker");
    assumeTrue(Identities.cgroupsWritable(), "needs a writable cgroup v2 hierarchy at " + Identities.CGROUP2);
    try (Scene scene = new Scene("fdbroker-shed-"); Cgroups cgroups = new Cgroups()) {
      Path root = scene.root;
      ItSupport.write(root.resolve("srv/secret/s.txt"), "secret\n", "rw-------");
      ItSupport.write(root.resolve("srv/public.txt"), "public\n", "rw-------");
      Path policy = Files.writeString(root.resolve("policy.yaml"), """
          rules:
            - name: everyone
              users: ["*"]
              allow: ["ROOT/srv/**"]
            - name: sandboxed
              units: ["sandboxed-worker.service"]
              deny: ["ROOT/srv/secret/**"]
          """.replace("ROOT", root.toString()));
      RunningBroker broker = scene.start(shape, policy);
      Path unit = cgroups.make("system.slice/sandboxed-worker.service");
      List<String> paths = List.of(root.resolve("srv/secret/s.txt").toString(), root.resolve("srv/public.txt").toString());

      scene.stopBroker();
      Path forA = exchangeDir(root, "a");
      Path forD = exchangeDir(root, "d");
      Path forN = exchangeDir(root, "n");
      Process a = connector(scene.started, unit, broker.socket(), "fork", forA);
      Process d = connector(scene.started, unit, broker.socket(), "stay", forD);
      Process n = connector(scene.started, Identities.CGROUP2, broker.socket(), "stay", forN);
      scene.orphan = ProcessHandle.of(ready(forA, a)).orElse(null);
      ready(forD, d);
      ready(forN, n);
      assertTrue(a.waitFor(30, TimeUnit.SECONDS), "A exits once it has forked B");
      scene.continueBroker();
      assertEquals(List.of("denied", "ok"), answers(ask(forA, paths)),
          "B, holding the connection of A, gone: held to the unit's deny, served the rest");
      assertEquals(List.of("denied", "ok"), answers(ask(forD, paths)), "D, alive in the unit");
      assertEquals(List.of("ok", "ok"), answers(ask(forN, paths)), "N, in no unit");
    }
  }

  /**
   * One test's tree, broker and processes, and their undoing. Each step of {@link #close} on its
   * own: a failing one must not leave the broker stopped, or running, or a process behind.
   */
  private static final class Scene implements AutoCloseable {
    final Path root;
    final String prefix;
    final List<Process> started = new ArrayList<>();
    /**
     * B, which nobody here waits for: held as a handle, which knows B's start time, so that a
     * later process with B's pid is never the one killed.
     */
    ProcessHandle orphan;
    private Path hostDir;
    private RunningBroker broker;
    private boolean stopped;

    Scene(String prefix) throws Exception {
      this.prefix = prefix;
      this.root = ItSupport.worldReadableTempDir(prefix);
    }

    /** The broker as the test runs it ("test"), or as the unit runs it ("host"). */
    RunningBroker start(String shape, Path policy) throws Exception {
      if (shape.equals("test")) {
        broker = BrokerProcess.start(policy, root.resolve("broker.sock"));
      } else {
        hostDir = ItSupport.worldReadableTempDir(prefix + "host-");
        broker = HostBroker.start(hostDir, policy, HostBroker.Options.defaults());
      }
      return broker;
    }

    void stopBroker() throws Exception {
      signal(broker, "STOP");
      stopped = true;
    }

    void continueBroker() throws Exception {
      signal(broker, "CONT");
      stopped = false;
    }

    @Override
    public void close() throws Exception {
      try {
        if (stopped && broker != null) {
          signal(broker, "CONT");
        }
      } finally {
        try {
          if (orphan != null) {
            orphan.destroyForcibly();
          }
          for (Process p : started) {
            try {
              p.getOutputStream().close(); // a spawner's C is killed when its stdin ends
            } catch (java.io.IOException closedAlready) {
              // a spawner whose C had the wrong pid, closed when it was given up
            }
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
              p.destroyForcibly().waitFor();
            }
          }
        } finally {
          if (broker != null) {
            broker.close();
          }
          if (hostDir != null) {
            ItSupport.deleteTree(hostDir);
          }
          ItSupport.deleteTree(root);
        }
      }
    }
  }

  /** A connector as nobody, moved into {@code cgroup} before it connects, talking through files in {@code dir}. */
  private static Process connector(List<Process> started, Path cgroup, Path socket, String mode, Path dir)
      throws Exception {
    List<String> cmd = Identities.inCgroup(cgroup, Identities.as(NOBODY, NOGROUP, List.of(),
        List.of(ItSupport.python(), "-c", CONNECTOR, socket.toString(), mode, dir.toString())));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("log").toFile()).start();
    started.add(p);
    return p;
  }

  private static Path exchangeDir(Path root, String name) throws Exception {
    Path dir = Files.createDirectories(root.resolve("exchange-" + name));
    Identities.chown(dir, NOBODY + ":" + NOGROUP);
    return dir;
  }

  private static String awaitFile(Path file, Path dir) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!Files.exists(file)) {
      assertTrue(System.nanoTime() < deadline, "no " + file + "; connector log:\n" + Files.readString(dir.resolve("log")));
      Thread.sleep(10);
    }
    return Files.readString(file);
  }

  private static long ready(Path dir, Process p) throws Exception {
    return Long.parseLong(awaitFile(dir.resolve("ready"), dir).trim());
  }

  /** Hands the paths to a waiting connector (B for A) and reads the broker's reply it got. */
  private static JsonNode ask(Path dir, List<String> paths) throws Exception {
    Files.writeString(dir.resolve("request.tmp"), Fixture.JSON.writeValueAsString(paths));
    Files.move(dir.resolve("request.tmp"), dir.resolve("request"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    return Fixture.JSON.readTree(awaitFile(dir.resolve("reply"), dir));
  }

  private static List<String> answers(JsonNode reply) {
    List<String> out = new ArrayList<>();
    for (JsonNode f : reply.path("files")) {
      out.add(f.get("ok").asBoolean() ? "ok" : f.get("error").asText());
    }
    assertTrue(out.size() == 2, reply.toString());
    return out;
  }

  private static void signal(RunningBroker broker, String signal) throws Exception {
    ItSupport.run(List.of("kill", "-" + signal, Long.toString(broker.pid())), Duration.ofSeconds(10)).assertExit(0);
  }
}
