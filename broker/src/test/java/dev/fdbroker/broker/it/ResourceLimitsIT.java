package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fdbroker.client.BrokeredFile;
import dev.fdbroker.client.FdBrokerClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;

/**
 * The broker under callers who take too much: too many connections from one uid, too many
 * requests, a dribbling sender, a client that never reads, a thousand connections at once, a burst
 * of a hundred thousand requests, and the broker's own descriptor limit. Each time: others are
 * still served, and the broker's descriptors, threads and heap come back.
 */
class ResourceLimitsIT {
  private static final String PING = "{\"op\":\"ping\"}";

  /**
   * The broker with these limits, as the unit runs it where the tests may (root: its user, one
   * capability, its RLIMIT_NOFILE, a held socket); else as the test's own user.
   */
  private static Fixture onHost(String limits) throws Exception {
    return ItSupport.isRoot() ? Fixture.startOnHost(limits) : Fixture.start(limits);
  }

  @Test
  void oneUidCannotTakeEveryConnection() throws Exception {
    assumeTrue(ItSupport.isRoot(), "a second uid (nobody) shows the cap is per uid");
    try (Fixture f = onHost("{max_connections_per_uid: 3}")) {
      List<RawClient> mine = new ArrayList<>();
      try {
        for (int i = 0; i < 3; i++) {
          mine.add(admitted(f.socket));
        }
        try (RawClient fourth = new RawClient(f.socket)) {
          JsonNode refused = fourth.request(PING);
          assertEquals("busy", refused.get("error").asText(), refused.toString());
          assertTrue(refused.get("message").asText().contains("holds its limit of 3 connections"), refused.toString());
        }
        // Another uid is not affected.
        JsonNode other = f.probe(ItSupport.NOBODY, ItSupport.NOGROUP, List.of(Map.of("op", "ping")));
        assertTrue(other.at("/replies/0/reply/ok").asBoolean(), other.toString());
      } finally {
        for (RawClient c : mine) {
          c.close();
        }
      }
      mine.add(admitted(f.socket)); // a slot is free again once one closes
      mine.get(0).close();
      HostileSummary.add("connections refused by the per-uid cap", 1);
    }
  }

  /** A connection the broker serves (waiting out the slots of connections that just closed). */
  private static RawClient admitted(Path socket) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (true) {
      RawClient c = new RawClient(socket);
      if (c.request(PING).get("ok").asBoolean()) {
        return c;
      }
      c.close();
      assertTrue(System.nanoTime() < deadline, "never admitted");
      Thread.sleep(20);
    }
  }

  @Test
  void aUidOverItsRequestRateGetsBusyAndOthersDoNot() throws Exception {
    try (Fixture f = onHost("{requests_per_second_per_uid: 50}"); RawClient c = new RawClient(f.socket)) {
      int ok = 0;
      int busy = 0;
      java.util.Set<String> refusedOps = new java.util.HashSet<>();
      for (int i = 0; i < 300; i++) {
        // stat and list are requests under the same rate as open.
        String op = switch (i % 3) {
          case 0 -> "\"op\":\"open\",\"paths\":[\"" + f.allowed + "/public.txt\"]";
          case 1 -> "\"op\":\"stat\",\"paths\":[\"" + f.allowed + "/public.txt\"]";
          default -> "\"op\":\"list\",\"path\":\"" + f.allowed + "\"";
        };
        JsonNode r = c.request("{\"id\":" + i + "," + op + "}");
        c.closeDescriptors();
        if (r.get("ok").asBoolean()) {
          ok++;
        } else {
          assertEquals("busy", r.get("error").asText(), r.toString());
          assertEquals(i, r.get("id").asInt(), "a refused request keeps its id");
          refusedOps.add(op.substring(6, 10));
          busy++;
        }
      }
      assertEquals(java.util.Set.of("open", "stat", "list"), refusedOps, "the rate covers every op");
      assertTrue(ok >= 50 && ok < 150, "about one second's worth got through: " + ok);
      assertTrue(busy > 100, "the rest were refused: " + busy);
      if (ItSupport.isRoot()) {
        JsonNode other = f.probe(ItSupport.NOBODY, ItSupport.NOGROUP, List.of(Map.of("op", "ping")));
        assertTrue(other.at("/replies/0/reply/ok").asBoolean(), "another uid has its own rate: " + other);
      }
      Thread.sleep(1100);
      assertTrue(c.request(PING).get("ok").asBoolean(), "the bucket refills");
      HostileSummary.add("requests refused by the rate limit", busy);
    }
  }

  @Test
  void aClientDribblingOneByteASecondIsCutOffWhileOthersAreServed() throws Exception {
    try (Fixture f = onHost("{request_timeout_seconds: 2}");
        RawClient dribbler = new RawClient(f.socket);
        FdBrokerClient other = FdBrokerClient.connect(f.socket)) {
      byte[] frame = RawClient.frame(PING);
      long start = System.nanoTime();
      boolean cut = false;
      for (int i = 0; i < frame.length && !cut; i++) {
        try {
          dribbler.send(new byte[] {frame[i]});
        } catch (IOException e) {
          cut = true;
          break;
        }
        long t0 = System.nanoTime();
        other.ping(); // everyone else is served meanwhile
        assertTrue(Duration.ofNanos(System.nanoTime() - t0).toMillis() < 1000, "another client waited");
        Thread.sleep(1000);
        if (i >= 3) {
          dribbler.socket.setSoTimeout(50);
          try {
            cut = dribbler.closedByBroker();
          } catch (java.net.SocketTimeoutException stillOpen) {
            // not yet
          }
        }
      }
      long seconds = Duration.ofNanos(System.nanoTime() - start).toSeconds();
      assertTrue(cut, "the dribbler was never cut off");
      assertTrue(seconds <= 6, "cut off after the 2 s request timeout, not " + seconds + " s");
    }
  }

  @Test
  void aClientThatNeverReadsDoesNotHoldUpOthers() throws Exception {
    try (Fixture f = onHost("{request_timeout_seconds: 3}");
        RawClient stuck = new RawClient(f.socket);
        FdBrokerClient other = FdBrokerClient.connect(f.socket)) {
      byte[] open = RawClient.frame("{\"op\":\"open\",\"paths\":[\"" + f.allowed + "/public.txt\"]}");
      for (int i = 0; i < 20; i++) {
        stuck.send(open); // never read
      }
      long start = System.nanoTime();
      for (int i = 0; i < 200; i++) {
        other.open(f.allowed + "/public.txt").close();
      }
      assertTrue(Duration.ofNanos(System.nanoTime() - start).toMillis() < 5000, "others are served at full speed");
    }
  }

  @Test
  void aThousandConnectionsAndAHundredThousandRequestsLeaveNothingBehind() throws Exception {
    String limits = "{max_connections: 2000, max_connections_per_uid: 2000, requests_per_second_per_uid: 100000000}";
    try (Fixture f = Fixture.start(limits)) {
      try (FdBrokerClient warm = FdBrokerClient.connect(f.socket)) {
        for (int i = 0; i < 2000; i++) {
          warm.open(f.allowed + "/public.txt").close(); // JIT, lazily opened JVM descriptors
        }
      }
      long heap = f.broker.heapAfterGc(); // first: jcmd's attach listener adds a thread and a socket for good
      int fds = f.broker.quiescentDescriptors();
      int threads = BrokerProcess.settlesTo(f.broker::osThreads, Integer.MAX_VALUE);

      // A thousand connections at once, each used, all held open.
      List<RawClient> thousand = new ArrayList<>();
      try {
        for (int i = 0; i < 1000; i++) {
          RawClient c = new RawClient(f.socket);
          thousand.add(c);
          assertTrue(c.request(PING).get("ok").asBoolean(), "connection " + i);
        }
        long rss = f.broker.rss();
        // With a thousand idle connections, a busy one is still answered at once.
        try (RawClient active = new RawClient(f.socket)) {
          for (int i = 0; i < 20; i++) {
            long t0 = System.nanoTime();
            active.request(PING);
            assertTrue(Duration.ofNanos(System.nanoTime() - t0).toMillis() < 500, "ping behind a thousand idle connections");
          }
        }
        System.out.printf("1000 idle connections: broker RSS %d MiB, %d threads%n", rss >> 20, f.broker.osThreads());
      } finally {
        for (RawClient c : thousand) {
          c.close();
        }
      }

      // A burst of a hundred thousand requests from 8 threads.
      int perThread = 12_500;
      LongAdder done = new LongAdder();
      ExecutorService pool = Executors.newFixedThreadPool(8);
      long start = System.nanoTime();
      try (FdBrokerClient client = FdBrokerClient.builder(f.socket).maxConnections(8).build()) {
        List<Future<?>> work = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
          work.add(pool.submit(() -> {
            for (int i = 0; i < perThread; i++) {
              if (i % 2 == 0) {
                client.ping();
              } else {
                try (BrokeredFile file = client.open(f.allowed + "/public.txt")) {
                  file.size();
                }
              }
              done.increment();
            }
            return null;
          }));
        }
        for (Future<?> w : work) {
          w.get(5, TimeUnit.MINUTES);
        }
      } finally {
        pool.shutdownNow();
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      assertEquals(100_000, done.sum());
      System.out.printf("burst: 100000 requests in %.1f s (%.0f/s)%n", seconds, 100_000 / seconds);
      HostileSummary.add("requests made (burst)", done.sum());
      HostileSummary.add("concurrent connections held", 1000);

      // Everything comes back.
      assertTrue(f.broker.isAlive());
      int fdsAfter = BrokerProcess.settlesTo(f.broker::openDescriptors, fds);
      int threadsAfter = BrokerProcess.settlesTo(f.broker::osThreads, threads + 4);
      long heapAfter = f.broker.heapAfterGc();
      System.out.printf("before/after: descriptors %d/%d, threads %d/%d, heap after GC %d/%d KiB%n",
          fds, fdsAfter, threads, threadsAfter, heap >> 10, heapAfter >> 10);
      assertTrue(fdsAfter <= fds, "descriptors " + fdsAfter + ", before " + fds);
      assertTrue(threadsAfter <= threads + 4, "threads " + threadsAfter + ", before " + threads);
      assertTrue(heapAfter <= Math.max(2 * heap, heap + (16 << 20)), "heap " + heapAfter + ", before " + heap);
      HostileSummary.add("descriptor leaks found (must be 0)", Math.max(0, fdsAfter - fds));
      HostileSummary.add("thread leaks found (must be 0)", Math.max(0, threadsAfter - threads - 4));
    }
  }

  /**
   * A broker allowing {@code dir/*.txt} under these limits, as the unit runs it where the tests may
   * (root), at an RLIMIT_NOFILE of 64, soft and hard alike, so that the JVM cannot raise it.
   */
  private static RunningBroker atNofile64(Path dir, String limits) throws Exception {
    Path policy = Files.writeString(dir.resolve("policy.yaml"), "limits: {" + limits + "}\nrules:\n"
        + "  - name: t\n    users: [" + ItSupport.myUid() + "]\n    allow: [\"" + dir + "/*.txt\"]\n");
    Files.createDirectories(dir.resolve("run"));
    return ItSupport.isRoot()
        ? HostBroker.start(dir, policy, HostBroker.Options.defaults().withNofile(64))
        : BrokerProcess.start(policy, dir.resolve("run/fdbroker.sock"), Map.of(), List.of("prlimit", "--nofile=64:64", "--"));
  }

  @Test
  void outOfDescriptorsTheBrokerAnswersBusyAndRecovers() throws Exception {
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/prlimit")), "needs prlimit");
    Path dir = ItSupport.worldReadableTempDir("fdbroker-nofile-");
    try {
      Path file = Files.writeString(dir.resolve("f.txt"), "f\n");
      try (RunningBroker broker = atNofile64(dir, "max_connections_per_uid: 1000")) {
        int base = broker.openDescriptors();
        List<RawClient> clients = new ArrayList<>();
        int busyConnections = 0;
        int busyFiles = 0;
        int granted = 0;
        try {
          String open = "{\"op\":\"open\",\"paths\":[" + ("\"" + file + "\",").repeat(15) + "\"" + file + "\"]}";
          for (int i = 0; i < 80; i++) {
            RawClient c = new RawClient(broker.socket());
            clients.add(c);
            JsonNode r = c.request(open);
            if (!r.get("ok").asBoolean()) {
              assertEquals("busy", r.get("error").asText(), r.toString());
              busyConnections++;
              continue;
            }
            for (JsonNode fr : r.get("files")) {
              if (fr.get("ok").asBoolean()) {
                granted++;
              } else {
                assertEquals("busy", fr.get("error").asText(), fr.toString());
                busyFiles++;
              }
            }
            c.closeDescriptors();
          }
        } finally {
          for (RawClient c : clients) {
            c.close();
          }
        }
        System.out.printf("RLIMIT_NOFILE 64 (%d in use at start): %d connections busy, %d files busy, %d granted%n",
            base, busyConnections, busyFiles, granted);
        assertTrue(busyConnections > 0, "connections past the limit were told busy");
        assertTrue(broker.isAlive(), broker.log());
        assertTrue(broker.log().contains("out of descriptors"), broker.log());
        // Recovered: a new client is served in full, once the descriptors of the burst are closed
        // (until then the request may be answered, with its file busy).
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        JsonNode r;
        do {
          try (RawClient c = new RawClient(broker.socket())) {
            r = c.request("{\"op\":\"open\",\"paths\":[\"" + file + "\"]}");
            c.closeDescriptors();
          }
          if (!r.at("/files/0/ok").asBoolean()) {
            Thread.sleep(50);
          }
        } while (!r.at("/files/0/ok").asBoolean() && System.nanoTime() < deadline);
        assertTrue(r.at("/files/0/ok").asBoolean(), r.toString());
        assertTrue(BrokerProcess.settlesTo(broker::openDescriptors, base) <= base, "descriptors back to " + base);
        HostileSummary.add("connections answered busy at RLIMIT_NOFILE", busyConnections);
      }
    } finally {
      ItSupport.deleteTree(dir);
    }
  }

  /**
   * Out of descriptors while other connections keep opening files: their openat can take the
   * number the broker just freed to refuse a connection, before it takes its spare back. Then a new
   * connection must still be told busy, never left waiting unanswered in the backlog for good.
   */
  @Test
  void outOfDescriptorsWhileOthersOpenEveryNewConnectionIsAnswered() throws Exception {
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/prlimit")), "needs prlimit");
    Path dir = ItSupport.worldReadableTempDir("fdbroker-nofile-race-");
    try {
      Path file = Files.writeString(dir.resolve("f.txt"), "f\n");
      try (RunningBroker broker = atNofile64(dir, "max_connections_per_uid: 1000, requests_per_second_per_uid: 100000000")) {
        List<RawClient> held = new ArrayList<>();
        ExecutorService openers = Executors.newFixedThreadPool(4);
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        int busy = 0;
        try {
          String open = "{\"op\":\"open\",\"paths\":[\"" + file + "\",\"" + file + "\"]}";
          List<Future<?>> running = new ArrayList<>();
          for (int t = 0; t < 4; t++) {
            RawClient c = new RawClient(broker.socket());
            held.add(c);
            running.add(openers.submit(() -> {
              while (!stop.get()) {
                c.request(open);
                c.closeDescriptors();
              }
              return null;
            }));
          }
          // Fill the broker's descriptors with held connections while the openers run; each new
          // connection must be answered (served, or told busy), within the socket's timeout.
          for (int i = 0; i < 120; i++) {
            RawClient c = new RawClient(broker.socket());
            held.add(c);
            JsonNode r = c.request(PING);
            if (!r.get("ok").asBoolean()) {
              assertEquals("busy", r.get("error").asText(), r.toString());
              busy++;
            }
          }
          stop.set(true);
          for (Future<?> f : running) {
            f.get(30, TimeUnit.SECONDS);
          }
          // The openers are quiet: nothing frees a descriptor now but the broker's own spare.
          for (int i = 0; i < 10; i++) {
            try (RawClient c = new RawClient(broker.socket())) {
              JsonNode r = c.request(PING);
              assertEquals("busy", r.path("error").asText(), "connection " + i + " past the limit: " + r);
            }
          }
        } finally {
          stop.set(true);
          openers.shutdownNow();
          for (RawClient c : held) {
            c.close();
          }
        }
        assertTrue(busy > 0, "connections past the limit were told busy");
        assertTrue(broker.isAlive(), broker.log());
      }
    } finally {
      ItSupport.deleteTree(dir);
    }
  }
}
