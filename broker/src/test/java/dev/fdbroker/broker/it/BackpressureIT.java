package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Clients that pipeline, read slowly or never read: replies always carry their descriptors, a
 * non-reading client can pin at most one reply's worth in its socket and is cut off, and a client
 * that pipelines honestly is never mistaken for a slow sender.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BackpressureIT {
  private Fixture f;

  @BeforeAll
  void start() throws Exception {
    f = Fixture.start("{request_timeout_seconds: 1}");
  }

  @AfterAll
  void stop() throws Exception {
    if (f != null) {
      f.close();
    }
  }

  static Map<String, Object> open(List<String> paths) {
    return Map.of("op", "open", "paths", paths);
  }

  @Test
  void pipelinedRepliesThatFillTheSocketStillCarryEveryDescriptor() throws Exception {
    // Long paths make each 64-path reply about 55 KB, so four unread replies fill the socket. Where
    // exactly a write first finds it full depends on the sizes, so several are tried.
    for (int length : new int[] {780, 800, 823, 840}) {
      String prefix = f.allowed + "/long" + length + "/";
      String tail = ("a".repeat(200) + "/").repeat(4);
      String dirs = tail.substring(0, length - prefix.length() - 6);
      if (dirs.endsWith("/")) {
        dirs = dirs.substring(0, dirs.length() - 1) + "b"; // no empty component
      }
      Path file = ItSupport.write(Path.of(prefix + dirs + "/f.txt"), "long\n", "rw-r--r--");
      assertEquals(length, file.toString().length());
      List<Object> requests = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        requests.add(open(Collections.nCopies(64, file.toString())));
      }
      // Send everything, and start reading only after half a second (the request timeout is 1 s).
      JsonNode report = f.probe(ItSupport.myUid(), 0, requests, "--pipeline", "--first-read-delay", "0.5");
      List<Integer> perReply = new ArrayList<>();
      for (JsonNode reply : report.get("replies")) {
        assertEquals(64, reply.at("/reply/files").size());
        perReply.add(reply.get("fds").size());
      }
      assertEquals(Collections.nCopies(10, 64), perReply,
          "descriptors per reply, for " + length + "-byte paths: each reply granting 64 files carries 64");
    }
  }

  @Test
  void aClientThatNeverReadsPinsAtMostOneReplyAndIsCutOff() throws Exception {
    byte[] request = RawClient.frame(Fixture.JSON.writeValueAsString(open(Collections.nCopies(60, f.allowed + "/public.txt"))));
    try (RawClient c = new RawClient(f.socket)) {
      for (int i = 0; i < 30; i++) {
        c.send(request); // 30 small requests fit the socket buffers: sending never blocks
      }
      Thread.sleep(2500); // the request timeout is 1 s
      // Everything the broker queued for us, until it hung up (or, were it still waiting, until the timeout).
      c.socket.setSoTimeout(3000);
      int bytes = 0;
      int descriptors = 0;
      byte[] buf = new byte[65536];
      boolean hungUp = false;
      try {
        int r;
        while ((r = c.socket.getInputStream().read(buf)) >= 0) {
          bytes += r;
          c.lastDescriptors = c.socket.getReceivedFileDescriptors();
          descriptors += c.lastDescriptors.length;
          c.closeDescriptors();
        }
        hungUp = true;
      } catch (java.net.SocketTimeoutException stillOpen) {
        // the broker did not hang up
      } catch (java.net.SocketException reset) {
        hungUp = true; // it closed with our unanswered requests unread: a reset, after the data
      }
      // Without backpressure all 30 replies (1800 descriptors) would sit in our socket.
      assertEquals(60, descriptors, "descriptors queued for a client that never reads (" + bytes + " bytes)");
      assertTrue(hungUp, "the broker cut off a client that does not read");
    }
  }

  @Test
  void honestPipeliningIsNotMistakenForASlowSender() throws Exception {
    byte[] ping = RawClient.frame("{\"op\":\"ping\",\"id\":0}");
    int count = 60;
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    for (int i = 0; i < count; i++) {
      all.writeBytes(ping);
    }
    byte[] bytes = all.toByteArray();
    try (RawClient c = new RawClient(f.socket)) {
      CompletableFuture<Integer> replies = CompletableFuture.supplyAsync(() -> {
        int n = 0;
        try {
          while (n < count) {
            c.reply();
            n++;
          }
        } catch (IOException e) {
          // cut off: counted below
        }
        return n;
      });
      // Each write ends part-way into the next frame, for three times the request timeout.
      for (int off = 0; off < bytes.length; off += 31) {
        c.send(java.util.Arrays.copyOfRange(bytes, off, Math.min(bytes.length, off + 31)));
        Thread.sleep(60);
      }
      assertEquals(count, replies.get(30, TimeUnit.SECONDS));
    }
  }

}
