package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Limits changed by a reload apply to the connections already open, not only to new ones: their
 * request rate, their request timeout and their idle timeout.
 */
class ReloadedLimitsIT {
  private static final String PING = "{\"op\":\"ping\"}";

  @Test
  void aReloadReachesConnectionsAlreadyOpen() throws Exception {
    assumeTrue(ItSupport.isRoot(), "runs the broker as the fdbroker user");
    Path dir = ItSupport.worldReadableTempDir("fdbroker-limits-");
    Path policy = dir.resolve("policy.yaml");
    String rules = "rules:\n  - name: test\n    users: [" + ItSupport.myUid() + "]\n    allow: [\"" + dir + "/*.txt\"]\n";
    Files.writeString(policy, rules);
    try (HostBroker broker = HostBroker.start(dir, policy, HostBroker.Options.defaults());
        RawClient idle = new RawClient(broker.socket());
        RawClient slow = new RawClient(broker.socket());
        RawClient busy = new RawClient(broker.socket())) {
      for (RawClient c : new RawClient[] {idle, slow, busy}) {
        assertTrue(c.request(PING).get("ok").asBoolean());
      }
      Files.writeString(policy, "limits: {requests_per_second_per_uid: 5, idle_timeout_seconds: 1,"
          + " request_timeout_seconds: 1}\n" + rules);
      broker.reload();
      int refused = 0;
      for (int i = 0; i < 30; i++) {
        if (!busy.request(PING).get("ok").asBoolean()) {
          refused++;
        }
      }
      assertTrue(refused >= 20, "an open connection gets the new rate (5 a second): " + refused + " of 30 refused");

      slow.send(new byte[] {0, 0}); // half a frame header, and no more
      long start = System.nanoTime();
      assertTrue(closedWithin(slow, 5000), "an open connection gets the new request timeout (1 s, was 10 s)");
      assertTrue(closedWithin(idle, 5000), "an open connection gets the new idle timeout (1 s, was 300 s)");
      System.out.printf("after the reload: slow sender and idle connection closed within %d ms%n",
          (System.nanoTime() - start) / 1_000_000);

    } finally {
      ItSupport.deleteTree(dir);
    }
  }

  private static boolean closedWithin(RawClient c, int millis) throws IOException {
    c.socket.setSoTimeout(millis);
    try {
      return c.closedByBroker();
    } catch (SocketTimeoutException stillOpen) {
      return false;
    }
  }
}
