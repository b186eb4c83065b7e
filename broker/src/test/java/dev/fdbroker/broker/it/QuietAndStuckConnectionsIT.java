package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * What the broker does with clients that go quiet, and with a request that never returns. A quiet
 * connection gives its serving thread back and is served again when it speaks; one whose client
 * hangs up while quiet is closed. A request stuck in the kernel (here a FUSE filesystem that never
 * answers, under an allowed path) holds only its own connection: everyone else is served.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class QuietAndStuckConnectionsIT {
  private Fixture fx;
  private String open;

  @BeforeAll
  void start() throws Exception {
    fx = Fixture.start("");
    open = "{\"id\":1,\"op\":\"open\",\"paths\":[\"" + fx.allowed.resolve("public.txt") + "\"]}";
  }

  @AfterAll
  void stop() throws Exception {
    fx.close();
  }

  private JsonNode openPublic(RawClient c) throws Exception {
    JsonNode r = c.request(open);
    c.closeDescriptors();
    return r;
  }

  @Test
  void quietConnectionsLetTheirThreadsGoAndAreServedAgainWhenTheySpeak() throws Exception {
    int threadsBefore = fx.broker.quiescentThreads();
    int descriptorsBefore = fx.broker.quiescentDescriptors();
    List<RawClient> clients = new ArrayList<>();
    byte[] frame = RawClient.frame(open);
    try {
      // Half a frame each: a connection in the middle of a request keeps its serving thread (it is
      // not quiet), so while they wait, each has a thread of its own.
      for (int i = 0; i < 100; i++) {
        clients.add(new RawClient(fx.socket).send(Arrays.copyOfRange(frame, 0, 6)));
      }
      int busy = settlesAbove(fx.broker::osThreads, threadsBefore + 100);
      assertTrue(busy >= threadsBefore + 100, "busy connections are served by threads of their own: " + busy
          + " threads, " + threadsBefore + " before");
      for (RawClient c : clients) {
        c.send(Arrays.copyOfRange(frame, 6, frame.length));
        assertTrue(c.reply().at("/files/0/ok").asBoolean());
        c.closeDescriptors();
      }
      // Quiet for longer than the broker lingers on a connection and keeps an idle thread.
      int threads = BrokerProcess.settlesTo(fx.broker::osThreads, threadsBefore + 2);
      assertTrue(threads <= threadsBefore + 2, "the threads went back and ended: " + threads + ", before " + threadsBefore);
      for (RawClient c : clients) {
        assertTrue(openPublic(c).at("/files/0/ok").asBoolean(), "a parked connection is served again");
      }
    } finally {
      for (RawClient c : clients) {
        c.close();
      }
    }
    assertTrue(fx.broker.isAlive());
    int after = BrokerProcess.settlesTo(fx.broker::openDescriptors, descriptorsBefore);
    assertTrue(after <= descriptorsBefore, "descriptors back to " + descriptorsBefore + ": " + after);
  }

  /** Waits (at most 10 s) for the probe to reach {@code expected}; returns the last value. */
  private static int settlesAbove(java.util.function.IntSupplier probe, int expected) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    int v;
    while ((v = probe.getAsInt()) < expected && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    return v;
  }

  @Test
  void aClientThatHangsUpWhileParkedIsClosed() throws Exception {
    int descriptorsBefore = fx.broker.quiescentDescriptors();
    List<RawClient> clients = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      RawClient c = new RawClient(fx.socket);
      clients.add(c);
      assertTrue(openPublic(c).at("/files/0/ok").asBoolean());
    }
    Thread.sleep(1000); // parked by now
    for (RawClient c : clients) {
      c.close();
    }
    int after = BrokerProcess.settlesTo(fx.broker::openDescriptors, descriptorsBefore);
    assertEquals(descriptorsBefore, after, "every parked connection whose client hung up was closed");
  }

  @Test
  void aRequestStuckInAHungFilesystemHoldsOnlyItsOwnConnection() throws Exception {
    assumeTrue(ItSupport.isRoot(), "mounting FUSE needs root");
    assumeTrue(Files.exists(Path.of("/dev/fuse")), "needs /dev/fuse");
    Path mountpoint = Files.createDirectories(fx.allowed.resolve("hung"));
    Path script = Path.of(System.getProperty("fdbroker.test.python"), "hung_fuse.py");
    Process fuse = new ProcessBuilder(ItSupport.python(), script.toString(), mountpoint.toString())
        .redirectErrorStream(true).start();
    BufferedReader fuseOut = new BufferedReader(new InputStreamReader(fuse.getInputStream(), StandardCharsets.UTF_8));
    String state = fuseOut.readLine();
    if (state == null || !state.equals("mounted")) {
      fuse.destroy();
      assumeTrue(false, "FUSE is not available here: " + state);
    }
    int descriptorsBefore = fx.broker.quiescentDescriptors();
    RawClient stuck = new RawClient(fx.socket);
    try {
      stuck.socket.setSoTimeout(60_000);
      CompletableFuture<JsonNode> stuckReply = CompletableFuture.supplyAsync(() -> {
        try {
          return stuck.request("{\"id\":\"stuck\",\"op\":\"open\",\"paths\":[\"" + mountpoint.resolve("file") + "\"]}");
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      Thread.sleep(500);
      assertTrue(!stuckReply.isDone(), "the request is stuck in the filesystem");
      // Everyone else is served, quickly, while it hangs.
      long start = System.nanoTime();
      for (int i = 0; i < 20; i++) {
        try (RawClient other = new RawClient(fx.socket)) {
          assertTrue(openPublic(other).at("/files/0/ok").asBoolean());
        }
      }
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertTrue(millis < 5000, "20 other clients served in " + millis + " ms while one request hangs");
      // The filesystem gives up (its server goes away): the stuck request is answered, not lost.
      fuse.getOutputStream().close();
      assertEquals("released", fuseOut.readLine());
      JsonNode r = stuckReply.get(30, TimeUnit.SECONDS);
      assertEquals("stuck", r.get("id").asText());
      assertEquals("io_error", r.at("/files/0/error").asText(), r.toString());
      assertTrue(openPublic(stuck).at("/files/0/ok").asBoolean(), "and its connection serves on");
    } finally {
      stuck.close();
      fuse.getOutputStream().close();
      if (!fuse.waitFor(10, TimeUnit.SECONDS)) {
        fuse.destroyForcibly();
      }
    }
    assertTrue(fx.broker.isAlive());
    int after = BrokerProcess.settlesTo(fx.broker::openDescriptors, descriptorsBefore);
    assertTrue(after <= descriptorsBefore, "descriptors back to " + descriptorsBefore + ": " + after);
  }
}
