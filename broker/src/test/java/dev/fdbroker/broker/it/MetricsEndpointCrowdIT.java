package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.fdbroker.client.BrokeredFile;
import dev.fdbroker.client.FdBrokerClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Any local user can connect to the metrics port. A thousand connections that each send a byte now
 * and then, and reconnect when dropped, must cost the broker a few descriptors and one thread, and
 * must not stop it serving files, nor stop a real scrape, nor fill its log.
 */
class MetricsEndpointCrowdIT {
  private static final int CROWD = 1000;

  @Test
  void aThousandDribblingConnectionsToTheMetricsPortCostAFixedFewDescriptorsAndThreads() throws Exception {
    assumeTrue(ItSupport.isRoot(), "runs the broker as the fdbroker user");
    Path dir = ItSupport.worldReadableTempDir("fdbroker-crowd-");
    Path file = ItSupport.write(dir.resolve("files/a.txt"), "a\n", "rw-------");
    Path policy = Files.writeString(dir.resolve("policy.yaml"), "metrics: {listen: systemd}\nrules:\n"
        + "  - name: test\n    users: [" + ItSupport.myUid() + "]\n    allow: [\"" + dir + "/files/*\"]\n");
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger connects = new AtomicInteger();
    try (HostBroker broker = HostBroker.start(dir, policy, HostBroker.Options.defaults().withMetricsSocket());
        FdBrokerClient client = FdBrokerClient.connect(broker.socket())) {
      int threadsBefore = broker.osThreads();
      int fdsBefore = broker.openDescriptors();
      long logBefore = operationalLines(broker);
      InetSocketAddress metrics = new InetSocketAddress("127.0.0.1", broker.metricsPort());

      Thread crowd = Thread.ofPlatform().start(() -> dribble(metrics, stop, connects));
      int maxThreads = 0;
      int maxFds = 0;
      int granted = 0;
      long until = System.nanoTime() + Duration.ofSeconds(12).toNanos();
      try {
        while (System.nanoTime() < until) {
          for (int i = 0; i < 50; i++) {
            try (BrokeredFile f = client.open(file.toString())) {
              f.size();
              granted++;
            }
          }
          maxThreads = Math.max(maxThreads, broker.osThreads());
          maxFds = Math.max(maxFds, broker.openDescriptors());
          Thread.sleep(50);
        }
        HttpResponse<String> scrape = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build().send(
            HttpRequest.newBuilder(URI.create("http://" + metrics.getHostString() + ":" + metrics.getPort() + "/metrics"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, scrape.statusCode(), "a real scrape gets through the crowd");
        assertTrue(scrape.body().contains("fdbroker_files_total{outcome=\"granted\"}"), scrape.body());
      } finally {
        stop.set(true);
        crowd.join();
      }
      long logLines = operationalLines(broker) - logBefore;
      System.out.printf("metrics crowd: %d connects, %d opens granted meanwhile; broker threads %d -> max %d,"
          + " descriptors %d -> max %d, %d log lines%n", connects.get(), granted, threadsBefore, maxThreads, fdsBefore,
          maxFds, logLines);
      assertTrue(connects.get() >= CROWD, "the crowd connected: " + connects.get());
      assertTrue(maxThreads <= threadsBefore + 8, "threads " + threadsBefore + " -> " + maxThreads);
      assertTrue(maxFds <= fdsBefore + 12, "descriptors " + fdsBefore + " -> " + maxFds);
      assertTrue(logLines < 20, "the log stays quiet: " + logLines + " lines\n" + broker.log());
      assertTrue(broker.log().lines().noneMatch(l -> l.contains("ERROR")), broker.log());
      HostileSummary.add("dribbling metrics connections made", connects.get());
    } finally {
      ItSupport.deleteTree(dir);
    }
  }

  /** Lines of the operational log (the audit lines, JSON, go to stderr too). */
  private static long operationalLines(HostBroker broker) {
    return broker.log().lines().filter(l -> !l.startsWith("{")).count();
  }

  /**
   * Keeps up to {@link #CROWD} connections open, each sending one byte of a request head a round
   * (every 200 ms); a connection the broker dropped is made again.
   */
  private static void dribble(InetSocketAddress target, AtomicBoolean stop, AtomicInteger connects) {
    byte[] head = "GET /metrics HTTP/1.1\r\nHost: x\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    List<Socket> sockets = new ArrayList<>();
    List<Integer> sent = new ArrayList<>();
    try {
      while (!stop.get()) {
        while (sockets.size() < CROWD && !stop.get()) {
          sockets.add(connect(target, connects));
          sent.add(0);
        }
        for (int i = 0; i < sockets.size() && !stop.get(); i++) {
          try {
            sockets.get(i).getOutputStream().write(head[sent.get(i) % head.length]);
            sent.set(i, sent.get(i) + 1);
          } catch (IOException dropped) {
            closeQuietly(sockets.get(i));
            sockets.set(i, connect(target, connects));
            sent.set(i, 0);
          }
        }
        Thread.sleep(200);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      sockets.forEach(MetricsEndpointCrowdIT::closeQuietly);
    }
  }

  private static Socket connect(InetSocketAddress target, AtomicInteger connects) {
    Socket s = new Socket();
    try {
      s.connect(target, 2000);
      connects.incrementAndGet();
    } catch (IOException e) {
      // the backlog was full: this one stays closed, and is retried next round
    }
    return s;
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // closing anyway
    }
  }
}
