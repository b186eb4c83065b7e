package dev.fdbroker.broker.server;

import dev.fdbroker.broker.opener.SecureOpener;
import dev.fdbroker.broker.policy.CurrentPolicy;
import dev.fdbroker.broker.policy.Limits;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.RequestId;
import java.io.Closeable;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicInteger;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The accept loop: one virtual thread per connection, at most {@code max_connections} served at
 * once. A connection over the limit is answered {@code busy} and closed rather than left waiting.
 */
public final class BrokerServer implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(BrokerServer.class);

  private final AFUNIXServerSocket server;
  private final CurrentPolicy policy;
  private final RequestHandler handler;
  private static final int MAX_LINGERING_REFUSALS = 64;
  private static final int REFUSAL_LINGER_MILLIS = 500;

  private final AtomicInteger active = new AtomicInteger();
  private final AtomicInteger refusing = new AtomicInteger();
  private volatile boolean closed;
  private long nextConnectionId = 1;

  public BrokerServer(AFUNIXServerSocket server, CurrentPolicy policy, SecureOpener opener, String version) {
    this.server = server;
    this.policy = policy;
    this.handler = new RequestHandler(policy, opener, version);
  }

  /** Accepts and serves connections until {@link #close()}. */
  public void serve() throws IOException {
    while (!closed) {
      AFUNIXSocket socket;
      try {
        socket = server.accept();
      } catch (IOException e) {
        if (closed || server.isClosed()) {
          return;
        }
        // Most likely out of descriptors: the client waits in the backlog; do not spin.
        log.warn("accept failed: {}", e.toString());
        sleepQuietly(50);
        continue;
      }
      long id = nextConnectionId++;
      Limits limits = policy.get().limits();
      Connection connection;
      if (active.incrementAndGet() <= limits.maxConnections()) {
        connection = new Connection(id, socket, handler, limits, active::decrementAndGet);
      } else {
        active.decrementAndGet();
        Reply busy = new Reply.Failed(RequestId.NONE, ErrorCode.BUSY,
            "the broker is serving its limit of " + limits.maxConnections() + " connections; try again later");
        // Lingering lets the client read why; under a flood of refusals, stop lingering.
        int linger = refusing.incrementAndGet() <= MAX_LINGERING_REFUSALS ? REFUSAL_LINGER_MILLIS : 0;
        connection = new Connection(id, socket, busy, linger, refusing::decrementAndGet);
      }
      Thread.ofVirtual().name("fdbroker-conn-" + id).start(connection);
    }
  }

  /** Connections being served right now. */
  public int activeConnections() {
    return active.get();
  }

  /** Stops accepting. Connections in progress run to their end. */
  @Override
  public void close() throws IOException {
    closed = true;
    server.close();
  }

  private static void sleepQuietly(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
