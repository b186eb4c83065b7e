package dev.fdbroker.broker.server;

import dev.fdbroker.broker.audit.AuditLog;
import dev.fdbroker.broker.metrics.BrokerMetrics;
import dev.fdbroker.broker.opener.SecureOpener;
import dev.fdbroker.broker.policy.CurrentPolicy;
import dev.fdbroker.broker.policy.Limits;
import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.RequestId;
import java.io.Closeable;
import java.io.IOException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The accept loop: one thread per connection, at most {@code max_connections} served at once. A
 * connection over the limit is answered {@code busy} and closed rather than left waiting.
 */
public final class BrokerServer implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(BrokerServer.class);

  private final AFUNIXServerSocket server;
  private final CurrentPolicy policy;
  private final RequestHandler handler;
  private final BrokerMetrics metrics;
  private static final int MAX_LINGERING_REFUSALS = 64;

  /**
   * A platform thread per connection, not a virtual one. junixsocket 2.11 parks a virtual thread
   * blocked on a socket and polls that socket from a small pool (as many threads as cores, one
   * second at a time): with a few idle connections blocked, a busy one waited minutes for its
   * request to be noticed. Blocking reads on platform threads go straight to the kernel. A small
   * stack keeps a thousand idle connections cheap; the handler's call depth is shallow.
   */
  private static final Thread.Builder CONNECTION_THREADS = Thread.ofPlatform().daemon(true).stackSize(256 * 1024);

  private final AtomicInteger active = new AtomicInteger();
  private final AtomicInteger refusing = new AtomicInteger();
  private final Set<Connection> live = ConcurrentHashMap.newKeySet();
  private final UidLimiter uids = new UidLimiter();
  private volatile boolean closed;
  private volatile boolean accepting;
  /** A spare descriptor, given up to answer busy when the process is out of them. */
  private int reserveFd = reserve();
  private boolean descriptorWarningGiven;
  private long nextConnectionId = 1;

  public BrokerServer(AFUNIXServerSocket server, CurrentPolicy policy, SecureOpener opener, String version,
      BrokerMetrics metrics, AuditLog audit) {
    this.server = server;
    this.policy = policy;
    this.metrics = metrics;
    this.handler = new RequestHandler(policy, opener, version, metrics, audit);
  }

  /** Accepts and serves connections until {@link #close()}. */
  public void serve() throws IOException {
    accepting = true;
    try {
      acceptLoop();
    } finally {
      accepting = false;
    }
  }

  private void acceptLoop() {
    while (!closed) {
      AFUNIXSocket socket;
      try {
        socket = server.accept();
      } catch (IOException e) {
        if (closed || server.isClosed()) {
          return;
        }
        if (outOfDescriptors(e)) {
          refuseWithReserve();
        } else {
          log.warn("accept failed: {}", e.toString());
          sleepQuietly(50); // do not spin on a persistent error
        }
        continue;
      }
      if (closed) {
        closeQuietly(socket); // accepted just as we stopped: not served
        return;
      }
      long id = nextConnectionId++;
      Limits limits = policy.get().limits();
      Connection connection;
      if (active.incrementAndGet() <= limits.maxConnections()) {
        connection = new Connection(id, socket, handler, metrics, uids, limits, this::ended);
        live.add(connection);
      } else {
        active.decrementAndGet();
        metrics.connectionRejected(BrokerMetrics.Rejection.LIMIT);
        Reply busy = new Reply.Failed(RequestId.NONE, ErrorCode.BUSY,
            "the broker is serving its limit of " + limits.maxConnections() + " connections; try again later");
        // Lingering lets the client read why; under a flood of refusals, stop lingering.
        int linger = refusing.incrementAndGet() <= MAX_LINGERING_REFUSALS ? Connection.REFUSAL_LINGER_MILLIS : 0;
        connection = new Connection(id, socket, busy, linger, refused -> refusing.decrementAndGet());
      }
      CONNECTION_THREADS.name("fdbroker-conn-" + id).start(connection);
    }
  }

  private static boolean outOfDescriptors(IOException e) {
    String m = String.valueOf(e.getMessage());
    return m.contains("Too many open files");
  }

  /**
   * Out of descriptors, the broker cannot even accept a connection to say so. It keeps one spare
   * descriptor for this: release it, accept one waiting client, tell it busy, close it, and take
   * the spare back. Without this, clients would wait in the backlog with no answer.
   */
  private void refuseWithReserve() {
    if (reserveFd >= 0) {
      Posix.close(reserveFd);
      reserveFd = -1;
    }
    try (AFUNIXSocket socket = server.accept()) {
      metrics.connectionRejected(BrokerMetrics.Rejection.DESCRIPTORS);
      Reply busy = new Reply.Failed(RequestId.NONE, ErrorCode.BUSY, "the broker is out of descriptors; try again later");
      new Connection(-1, socket, busy, 100, c -> { }).run();
    } catch (IOException e) {
      sleepQuietly(50);
    } finally {
      reserveFd = reserve();
      if (reserveFd < 0) {
        sleepQuietly(50); // still exhausted: let connections finish before trying again
      }
    }
    if (!descriptorWarningGiven) {
      descriptorWarningGiven = true;
      log.warn("out of descriptors (RLIMIT_NOFILE): answering new connections busy until some close");
    }
  }

  private static int reserve() {
    return Posix.openat(Posix.AT_FDCWD, "/", Posix.O_PATH | Posix.O_CLOEXEC);
  }

  private void ended(Connection c) {
    live.remove(c);
    active.decrementAndGet();
  }

  private static void closeQuietly(AFUNIXSocket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // nothing to add
    }
  }

  /** Connections being served right now. */
  public int activeConnections() {
    return active.get();
  }

  /** Requests answered since start. */
  public long requestsServed() {
    return handler.requestsServed();
  }

  /** Whether the accept loop is running (for the watchdog). */
  public boolean isAccepting() {
    return accepting && !closed;
  }

  /**
   * Ends every connection: idle ones at once, busy ones once their current request is answered.
   * Waits at most {@code timeout}; returns whether all connections ended. Call after {@link #close()}.
   */
  public boolean drain(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!live.isEmpty() && System.nanoTime() < deadline) {
      for (Connection c : live) {
        c.drain(); // idempotent; repeated for any connection that slipped in late
      }
      Thread.sleep(10);
    }
    return live.isEmpty();
  }

  /** Stops accepting; {@link #serve()} returns. Connections in progress run on until drained. */
  @Override
  public void close() throws IOException {
    closed = true;
    server.close();
    if (reserveFd >= 0) {
      Posix.close(reserveFd);
      reserveFd = -1;
    }
  }

  private static void sleepQuietly(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
