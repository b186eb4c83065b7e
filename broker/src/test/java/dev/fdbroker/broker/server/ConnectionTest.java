package dev.fdbroker.broker.server;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fdbroker.broker.audit.AuditLog;
import dev.fdbroker.broker.metrics.BrokerMetrics;
import dev.fdbroker.broker.opener.SecureOpener;
import dev.fdbroker.broker.policy.Caller;
import dev.fdbroker.broker.policy.CurrentPolicy;
import dev.fdbroker.broker.policy.Policy;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;

/** A connection served in the test's own thread, over a socket pair, against a real handler. */
class ConnectionTest {
  @TempDir
  Path dir;

  @Test
  void aRequestThatCameWhileTheConnectionWaitedForAThreadIsServedThoughTheIdleTimeoutPassed() throws Exception {
    Policy policy = Policy.load(Files.writeString(dir.resolve("policy.yaml"), """
        limits:
          idle_timeout_seconds: 1
        rules:
          - name: nothing
            users: [0]
            allow: ["/nonexistent/**"]
        """));
    BrokerMetrics metrics = new BrokerMetrics();
    RequestHandler handler = new RequestHandler(new CurrentPolicy(policy), SecureOpener.forThisKernel(), "test",
        metrics, AuditLog.open(dir.resolve("audit.jsonl"), metrics));
    AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
    try (AFUNIXSocketChannel client = pair.getSocket2()) {
      Connection c = new Connection(1, pair.getSocket1(), new Caller(0, 0, ProcessHandle.current().pid()), handler,
          metrics, new UidLimiter().admit(0, 10, 10_000), new TestHome(policy.limits()));
      byte[] request = "{\"id\": 1, \"op\": \"ping\"}".getBytes(StandardCharsets.UTF_8);
      client.write(ByteBuffer.allocate(4 + request.length).putInt(request.length).put(request).flip());
      // The connection waits for a thread (a crowd, every thread busy) longer than the idle
      // timeout, its client's request already in the socket.
      Thread.sleep(1_500);
      c.run(); // a thread takes it up: serves the request, then ends once the client is quiet
      String reply = readAll(client);
      assertTrue(reply.contains("\"ok\":true") || reply.contains("\"ok\": true"),
          "the waiting request is answered, not dropped for an idle timeout: " + reply);
    }
  }

  private static String readAll(AFUNIXSocketChannel channel) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteBuffer buf = ByteBuffer.allocate(4096);
    while (channel.read(buf.clear()) > 0) {
      out.write(buf.array(), 0, buf.position());
    }
    return out.toString(StandardCharsets.UTF_8);
  }
}
