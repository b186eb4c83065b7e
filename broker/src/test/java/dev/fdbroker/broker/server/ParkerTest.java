package dev.fdbroker.broker.server;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fdbroker.broker.metrics.BrokerMetrics;
import dev.fdbroker.broker.policy.Caller;
import dev.fdbroker.broker.policy.Limits;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;

class ParkerTest {

  @Test
  void aParkerThatDiesOfAnythingSaysSoAndTakesNoMoreConnections() throws Exception {
    // Any throwable escaping the loop (here from handing a connection on) ends the parker: it must
    // then say it is not running, so that the watchdog's pings stop and systemd restarts the broker.
    Parker parker = new Parker(task -> {
      throw new OutOfMemoryError("test: unable to create native thread");
    }, c -> { });
    parker.start();
    UidLimiter uids = new UidLimiter();
    BrokerMetrics metrics = new BrokerMetrics();
    TestHome home = new TestHome(Limits.DEFAULTS);
    AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
    try {
      Connection c = new Connection(1, pair.getSocket1(), new Caller(1000, 1000, 1), null, metrics,
          uids.admit(1000, 10, 10), home);
      pair.getSocket1().configureBlocking(false);
      assertTrue(parker.park(c));
      assertTrue(parker.isRunning());
      pair.getSocket2().write(ByteBuffer.wrap(new byte[] {0})); // a request begins: the parker hands it on
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (parker.isRunning() && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertFalse(parker.isRunning(), "a dead parker says so");
      Connection other = new Connection(2, pair.getSocket2(), new Caller(1000, 1000, 1), null,
          metrics, uids.admit(1000, 10, 10), home);
      assertFalse(parker.park(other), "and takes no more: its caller closes them");
    } finally {
      pair.getSocket1().close();
      pair.getSocket2().close();
      parker.stop();
    }
  }
}
