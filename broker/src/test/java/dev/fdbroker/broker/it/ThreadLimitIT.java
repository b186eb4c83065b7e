package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The broker under a task limit, as TasksMax= sets one (a real pids cgroup): when no thread can be
 * started for a connection, that connection is told busy and counted, and the broker keeps serving
 * (before, the OutOfMemoryError ended the accept loop, and the broker with it).
 */
class ThreadLimitIT {
  private static final Path PIDS = Path.of("/sys/fs/cgroup/pids");

  @Test
  void withNoThreadToBeHadAConnectionIsToldBusyAndTheBrokerServesOn() throws Exception {
    assumeTrue(ItSupport.isRoot(), "runs the broker as the fdbroker user, and makes a cgroup");
    assumeTrue(Files.isWritable(PIDS), "needs the pids cgroup controller at " + PIDS);
    Path dir = ItSupport.worldReadableTempDir("fdbroker-tasks-");
    Path cgroup = PIDS.resolve("fdbroker-it-" + ProcessHandle.current().pid());
    Path policy = Files.writeString(dir.resolve("policy.yaml"), "metrics: {listen: systemd}\n"
        + "limits: {request_timeout_seconds: 3}\nrules:\n  - name: test\n    users: [" + ItSupport.myUid() + "]\n"
        + "    allow: [\"" + dir + "/*.txt\"]\n");
    List<RawClient> slow = new ArrayList<>();
    try (HostBroker broker = HostBroker.start(dir, policy, HostBroker.Options.defaults().withMetricsSocket())) {
      Files.createDirectories(cgroup);
      int threads = broker.osThreads();
      Files.writeString(cgroup.resolve("pids.max"), Integer.toString(threads + 20));
      Files.writeString(cgroup.resolve("cgroup.procs"), Long.toString(broker.pid()));

      // 200 connections that each begin a request and send no more: each holds a serving thread
      // until the request timeout cuts it off.
      for (int i = 0; i < 200; i++) {
        RawClient c = new RawClient(broker.socket());
        c.send(new byte[] {0, 0});
        slow.add(c);
      }
      Thread.sleep(2000);
      assertTrue(broker.isAlive(), "the broker survives having no thread to start\n" + broker.log());
      int busy = 0;
      for (RawClient c : slow) {
        try {
          JsonNode r = c.reply(); // busy at once, or the end of the stream at the timeout
          assertEquals("busy", r.get("error").asText(), r.toString());
          busy++;
        } catch (IOException cutOff) {
          // served, then cut off as a slow sender
        }
      }
      assertTrue(broker.log().contains("no thread could be started"), broker.log());
      int pidsEvents = Integer.parseInt(Files.readString(cgroup.resolve("pids.events")).replaceAll("\\D", ""));
      System.out.printf("TasksMax %d: %d of 200 slow connections told busy, %d forks refused by the cgroup%n",
          threads + 20, busy, pidsEvents);
      assertTrue(busy > 0, "connections with no thread were told busy");

      // Still serving, and counted.
      try (RawClient c = new RawClient(broker.socket())) {
        assertTrue(c.request("{\"op\":\"ping\"}").get("ok").asBoolean(), "the broker still serves\n" + broker.log());
      }
      Scrape s = Scrape.http("127.0.0.1:" + broker.metricsPort());
      assertEquals(busy, (int) s.get("fdbroker_connections_rejected_total{reason=\"threads\"}"), s.text());
      assertTrue(broker.log().lines().filter(l -> l.contains("no thread could be started")).count() <= 2,
          "said rarely:\n" + broker.log());
      // And it can be stopped: a few threads are kept free, and a signal's handler needs one.
      assertEquals(0, broker.stop(), broker.log());
    } finally {
      for (RawClient c : slow) {
        c.close();
      }
      if (Files.exists(cgroup)) {
        Files.delete(cgroup); // rmdir: empty once the broker has gone
      }
      ItSupport.deleteTree(dir);
    }
  }
}
