package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fdbroker.client.BrokeredFile;
import dev.fdbroker.client.FdBrokerClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The sockets systemd holds (fdbroker.socket, fdbroker-metrics.socket) outlive the broker: after a
 * stop, and after a kill, the next broker started on the very same sockets serves them, and a
 * client that connected in between is answered by it.
 */
class HeldSocketIT {
  private Path dir;
  private Path file;
  private HostBroker broker;

  @BeforeEach
  void setUp() throws Exception {
    assumeTrue(ItSupport.isRoot(), "runs the broker as the fdbroker user");
    dir = ItSupport.worldReadableTempDir("fdbroker-held-");
    file = ItSupport.write(dir.resolve("files/a.txt"), "a\n", "rw-------");
    Path policy = Files.writeString(dir.resolve("policy.yaml"), "metrics: {listen: systemd}\nrules:\n"
        + "  - name: test\n    users: [" + ItSupport.myUid() + "]\n    allow: [\"" + dir + "/files/*\"]\n");
    broker = HostBroker.start(dir, policy, HostBroker.Options.defaults().withMetricsSocket());
  }

  @AfterEach
  void tearDown() throws Exception {
    if (broker != null) {
      broker.close();
    }
    if (dir != null) {
      ItSupport.deleteTree(dir);
    }
  }

  @Test
  void aStoppedAndThenAKilledBrokerLeaveTheHeldSocketsToTheNextOne() throws Exception {
    assertServes("the first broker");

    assertEquals(0, broker.stop(), broker.log());
    CompletableFuture<JsonNode> waiting = connectAndPing();
    broker.startAgain();
    assertTrue(waiting.get(30, TimeUnit.SECONDS).get("ok").asBoolean(), "a client that connected between two brokers");
    assertServes("the broker after a stop");

    assertEquals(-9, broker.kill(), broker.log());
    waiting = connectAndPing();
    broker.startAgain();
    assertTrue(waiting.get(30, TimeUnit.SECONDS).get("ok").asBoolean(), "a client that connected after a kill");
    assertServes("the broker after a kill");

    assertFalse(broker.log().contains("accept failed"), broker.log());
    assertEquals(0, broker.stop(), broker.log());
  }

  @Test
  void clientLibRequestsRideOutAStopAndAKillOfTheBroker() throws Exception {
    AtomicInteger served = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    ConcurrentLinkedQueue<Exception> failures = new ConcurrentLinkedQueue<>();
    AtomicBoolean running = new AtomicBoolean(true);
    List<Thread> workers = new ArrayList<>();
    try (FdBrokerClient client = FdBrokerClient.builder(broker.socket()).requestTimeout(Duration.ofSeconds(30)).build()) {
      for (int t = 0; t < 4; t++) {
        workers.add(Thread.ofPlatform().start(() -> {
          while (running.get()) {
            try (BrokeredFile f = client.open(file.toString())) {
              f.size();
              served.incrementAndGet();
            } catch (Exception e) {
              failed.incrementAndGet();
              failures.add(e);
            }
          }
        }));
      }
      ItSupport.awaitMore(served, 500);
      assertEquals(0, broker.stop(), broker.log());
      Thread.sleep(1000); // no broker: connections wait in the held socket's backlog
      broker.startAgain();
      ItSupport.awaitMore(served, 500);
      broker.kill(); // in the middle of requests: their connections end without a reply
      Thread.sleep(500);
      broker.startAgain();
      ItSupport.awaitMore(served, 500);
    } finally {
      running.set(false);
      for (Thread w : workers) {
        w.join(60_000);
      }
    }
    System.out.printf("across a stop and a kill on the held socket: %d requests served, %d failed%n", served.get(),
        failed.get());
    assertEquals(0, failed.get(), "first failure: " + failures.peek());
  }

  /** The current broker opens a file and answers a scrape on the held metrics socket. */
  private void assertServes(String which) throws Exception {
    try (RawClient c = new RawClient(broker.socket())) {
      JsonNode r = c.request("{\"op\":\"open\",\"paths\":[\"" + file + "\"]}");
      c.closeDescriptors();
      assertTrue(r.at("/files/0/ok").asBoolean(), which + ": " + r + "\n" + broker.log());
    }
    HttpResponse<String> scrape = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + broker.metricsPort() + "/metrics"))
            .timeout(Duration.ofSeconds(20)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, scrape.statusCode(), which);
    assertTrue(scrape.body().contains("fdbroker_files_total{outcome=\"granted\"} 1.0"), which + ": " + scrape.body());
  }

  /** Connects while no broker runs (the held socket's backlog takes it) and pings. */
  private CompletableFuture<JsonNode> connectAndPing() throws Exception {
    RawClient c = new RawClient(broker.socket());
    c.socket.setSoTimeout(30_000);
    return CompletableFuture.supplyAsync(() -> {
      try (c) {
        return c.request("{\"op\":\"ping\"}");
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
  }
}
