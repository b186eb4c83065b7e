package dev.fdbroker.broker.server;

import dev.fdbroker.broker.audit.AuditLog;
import dev.fdbroker.broker.logging.ThrottledLog;
import dev.fdbroker.broker.metrics.BrokerMetrics;
import dev.fdbroker.broker.opener.SecureOpener;
import dev.fdbroker.broker.policy.Caller;
import dev.fdbroker.broker.policy.CurrentPolicy;
import dev.fdbroker.broker.policy.Limits;
import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.RequestId;
import java.io.IOException;
import com.sun.management.UnixOperatingSystemMXBean;
import java.lang.management.ManagementFactory;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSelectorProvider;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Accepts connections and serves each on a thread of its own while its client is busy, at most
 * {@code max_connections} at once. A connection over a limit is answered {@code busy} and closed
 * rather than left waiting. A client that goes quiet gives its thread back to the pool and waits in
 * the {@link Parker}, so a thousand idle clients cost a thousand small buffers, not a thousand
 * thread stacks. Threads come from {@link ServingThreads}, whose own thread starts them: neither
 * the accepting thread nor the parker ever waits for a thread to start.
 *
 * <p>Why a thread per busy connection: blocked in recv on its own socket, a serving thread is woken
 * by the client's request on the client's CPU and answers before the client has gone to sleep for
 * the reply, so a request costs two context switches. An event loop serving many sockets from one
 * thread makes every client sleep for its reply and be woken again: measured here, that cost a
 * third more CPU time per request. Why not virtual threads: junixsocket 2.11 parks a virtual thread
 * blocked on a socket and polls that socket from a small pool (as many threads as cores, one second
 * at a time), so a few idle connections starved busy ones.
 */
public final class BrokerServer {
  private static final Logger log = LoggerFactory.getLogger(BrokerServer.class);
  /** Refused connections allowed to linger at once (see {@link Refusal#LINGER_MILLIS}). */
  private static final int MAX_LINGERING_REFUSALS = 64;
  /** How long a refusal told on the accepting thread lingers (it holds up accepting meanwhile). */
  private static final int REFUSAL_LINGER_HERE_MILLIS = 100;
  private static final String NO_THREAD = "the broker cannot start a thread to serve this connection; try again later";
  /** uid_t and gid_t are 32 bits; (uid_t) -1 means the kernel reported no credentials. */
  private static final long NO_ID = 0xffffffffL;

  private final AFUNIXServerSocketChannel server;
  private final CurrentPolicy policy;
  private final RequestHandler handler;
  private final BrokerMetrics metrics;
  private final ServingThreads servers;
  private final Parker parker;
  private final Set<Connection> live = ConcurrentHashMap.newKeySet();
  private final Connection.Home home = new Home();
  private final UidLimiter uids = new UidLimiter();
  private final DescriptorBudget budget = new DescriptorBudget(openFileLimit());
  /** Connections served (admitted), and all connections open (refusals too). */
  private final AtomicInteger active = new AtomicInteger();
  private final AtomicInteger open = new AtomicInteger();
  private final AtomicInteger refusing = new AtomicInteger();
  private volatile boolean closed;
  private volatile boolean accepting;
  /** Wakes the accept loop when it is to stop. */
  private volatile Selector acceptWakeup;
  private final ThrottledLog acceptFailures = new ThrottledLog(log, Duration.ofMinutes(1));
  private final ThrottledLog noThreads = new ThrottledLog(log, Duration.ofMinutes(1));
  /** The accept loop's pause after a connection found no thread (on the accept thread only). */
  private long threadBackoffMillis;
  /** A spare descriptor, given up to answer busy when the process is out of them. */
  private int reserveFd = reserve();
  private boolean descriptorWarningGiven;
  private long nextConnectionId = 1;

  public BrokerServer(AFUNIXServerSocket server, CurrentPolicy policy, SecureOpener opener, String version,
      BrokerMetrics metrics, AuditLog audit) throws IOException {
    this.server = server.getChannel();
    this.policy = policy;
    this.metrics = metrics;
    this.handler = new RequestHandler(policy, opener, version, metrics, audit);
    AtomicLong threadNumber = new AtomicLong();
    // A small stack keeps many busy connections cheap; the handler's call depth is shallow.
    ThreadFactory threads = r -> Thread.ofPlatform().daemon(true).stackSize(256 * 1024)
        .name("fdbroker-conn-" + threadNumber.incrementAndGet()).unstarted(r);
    this.servers = new ServingThreads(threads, this::noThreadFromStarter);
    this.parker = new Parker(this::dispatch, this::noThreadNoLinger);
    metrics.descriptorsInFlight(budget::inFlight);
    String misfit = budget.fit(policy.get().limits());
    if (misfit != null) {
      // Not a warning: outside the unit (a test, a shell) the limit is often systemd's or less.
      log.info("{}", misfit);
    }
  }

  /**
   * Accepts and serves connections until {@link #stopAccepting()}. The listening socket is waited
   * on in a selector, never in a blocking accept: a thread blocked in accept can only be woken by
   * shutting the socket down, and an inherited socket must never be shut down (see {@link
   * #stopAccepting}).
   */
  public void serve() throws IOException {
    servers.start();
    parker.start();
    try (Selector selector = AFUNIXSelectorProvider.provider().openSelector()) {
      server.configureBlocking(false);
      server.register(selector, SelectionKey.OP_ACCEPT);
      acceptWakeup = selector;
      accepting = true;
      acceptLoop(selector);
    } finally {
      accepting = false;
    }
  }

  private void acceptLoop(Selector selector) {
    long backoffMillis = 0;
    while (!closed) {
      try {
        selector.select();
        selector.selectedKeys().clear();
      } catch (IOException e) {
        acceptFailures.warn("waiting for connections failed: {}", e.toString());
        backoffMillis = backOff(backoffMillis);
        continue;
      }
      // Take every connection waiting, then wait again.
      while (!closed) {
        if (reserveFd < 0) {
          reserveFd = reserve(); // the spare comes before any new connection
        }
        AFUNIXSocketChannel channel;
        try {
          channel = server.accept();
        } catch (IOException e) {
          if (outOfDescriptors(e)) {
            refuseWithReserve();
          } else {
            // Not ours to fix (the socket broken by another process, a kernel limit): say so,
            // rarely, and wait longer each time instead of spinning.
            acceptFailures.warn("accept failed: {}", e.toString());
            backoffMillis = backOff(backoffMillis);
          }
          break;
        }
        if (channel == null) {
          break; // none left waiting
        }
        backoffMillis = 0;
        if (closed) {
          closeQuietly(channel); // accepted just as we stopped: not served
          return;
        }
        if (reserveFd < 0) {
          // The spare's number was taken while it was given up (another thread opened a file in
          // that moment), so this connection holds the last descriptor: admitted, it would keep
          // it, and the next one would wait in the backlog unanswered. Refuse it and take the
          // spare back instead.
          refuseOutOfDescriptors(channel);
          reserveFd = reserve();
          continue;
        }
        try {
          admit(channel, nextConnectionId++);
        } catch (IOException | RuntimeException e) {
          log.warn("could not take a new connection: {}", e.toString());
          closeQuietly(channel);
        }
      }
    }
  }

  /** Sleeps {@code previous} doubled (10 ms to 1 s); returns how long. */
  private static long backOff(long previousMillis) {
    long millis = Math.min(1000, Math.max(10, previousMillis * 2));
    sleepQuietly(millis);
    return millis;
  }

  private void admit(AFUNIXSocketChannel channel, long id) throws IOException {
    Caller caller = caller(channel.getPeerCredentials());
    if (caller == null) {
      log.warn("connection {}: the kernel reported no peer credentials; closing", id);
      closeQuietly(channel);
      return;
    }
    Limits limits = policy.get().limits();
    if (active.incrementAndGet() > limits.maxConnections()) {
      active.decrementAndGet();
      metrics.connectionRejected(BrokerMetrics.Rejection.LIMIT);
      refuse(channel, "the broker is serving its limit of " + limits.maxConnections()
          + " connections; try again later");
      return;
    }
    UidLimiter.Account account = uids.admit(caller.uid(), limits.maxConnectionsPerUid(),
        limits.requestsPerSecondPerUid());
    if (account == null) {
      active.decrementAndGet();
      metrics.connectionRejected(BrokerMetrics.Rejection.UID_LIMIT);
      log.debug("connection {}: uid {} holds its limit of {} connections", id, caller.uid(), limits.maxConnectionsPerUid());
      refuse(channel, "uid " + caller.uid() + " holds its limit of " + limits.maxConnectionsPerUid()
          + " connections; try again later");
      return;
    }
    Connection c;
    try {
      c = new Connection(id, channel, caller, handler, metrics, account, home);
    } catch (IOException | RuntimeException e) {
      account.release();
      active.decrementAndGet();
      throw e;
    }
    metrics.connectionOpened();
    open.incrementAndGet();
    live.add(c);
    if (dispatch(c)) {
      threadBackoffMillis = 0;
    } else {
      noThreadHere(c.channel());
      c.close();
    }
  }

  private void refuse(AFUNIXSocketChannel channel, String why) {
    // Lingering lets the client read why; under a flood of refusals, stop lingering.
    int linger = refusing.incrementAndGet() <= MAX_LINGERING_REFUSALS ? Refusal.LINGER_MILLIS : 0;
    open.incrementAndGet();
    Refusal r = new Refusal(channel, why, linger, () -> {
      refusing.decrementAndGet();
      open.decrementAndGet();
    });
    if (servers.executeBounded(r)) {
      threadBackoffMillis = 0;
    } else {
      noThreadHere(channel);
      r.close();
    }
  }

  /**
   * Runs {@code task} on a serving thread, soon; false if it was not taken (held below a task
   * limit with no thread free, or shutting down): see {@link ServingThreads}.
   */
  boolean dispatch(Runnable task) {
    return servers.execute(task);
  }

  /**
   * Tells a new connection that found no thread busy, on the accepting thread, and counts it; then
   * pauses the accept loop (longer each time, up to a second), so that a flood waits in the
   * kernel's backlog, not in the broker's descriptors, while threads end.
   */
  private void noThreadHere(AFUNIXSocketChannel channel) {
    countNoThread();
    refuseOnThisThread(channel, NO_THREAD, REFUSAL_LINGER_HERE_MILLIS);
    threadBackoffMillis = backOff(threadBackoffMillis);
  }

  /**
   * Tells a connection that found no thread busy, and closes it, on the parker or the starter. No
   * linger: the parker has every quiet connection to watch, the starter every task waiting.
   */
  private void noThreadNoLinger(Connection c) {
    countNoThread();
    refuseOnThisThread(c.channel(), NO_THREAD, 0);
    c.close();
  }

  /**
   * Tells a task the starter could not start a thread for (or that waited as the broker stopped)
   * busy, and closes it; on the starter thread, so without lingering: other tasks wait behind it.
   */
  private void noThreadFromStarter(Runnable task) {
    if (task instanceof Connection c) {
      noThreadNoLinger(c);
    } else if (task instanceof Refusal r) {
      countNoThread();
      refuseOnThisThread(r.channel(), r.why(), 0); // its own reason, as its thread would have told it
      r.close();
    }
  }

  private void countNoThread() {
    metrics.connectionRejected(BrokerMetrics.Rejection.THREADS);
    noThreads.warn("no thread could be started to serve a connection (a task or process limit, such as"
        + " TasksMax=, is reached); answering busy");
  }

  /** What connections need of the server. */
  private final class Home implements Connection.Home {
    @Override
    public Limits limits() {
      return policy.get().limits();
    }

    @Override
    public boolean park(Connection c) {
      return parker.park(c);
    }

    @Override
    public boolean handOver(Connection c) {
      return servers.handOver(c);
    }

    @Override
    public DescriptorBudget budget() {
      return budget;
    }

    @Override
    public int connections() {
      return active.get();
    }

    @Override
    public boolean retire(Connection c) {
      return parker.retire(c);
    }

    @Override
    public void closed(Connection c) {
      if (live.remove(c)) {
        active.decrementAndGet();
        open.decrementAndGet();
      }
    }
  }

  /**
   * The caller is who the kernel says: SO_PEERCRED, recorded at connect(); no request can change
   * it. junixsocket reports the 32-bit ids sign-extended, so they are read back as unsigned.
   */
  static Caller caller(AFUNIXSocketCredentials cred) {
    long uid = cred.getUid() & NO_ID;
    long gid = cred.getGid() & NO_ID;
    if (uid == NO_ID || gid == NO_ID) {
      return null;
    }
    return new Caller(uid, gid, cred.getPid());
  }

  private static boolean outOfDescriptors(IOException e) {
    String m = String.valueOf(e.getMessage());
    return m.contains("Too many open files");
  }

  /**
   * Out of descriptors, the broker cannot even accept a connection to say so. It keeps one spare
   * descriptor for this: release it, accept one waiting client, tell it busy, close it, and take
   * the spare back. Without this, clients would wait in the backlog with no answer. The accept
   * loop holds that spare first: it is taken back before any connection is admitted.
   */
  private void refuseWithReserve() {
    if (reserveFd >= 0) {
      Posix.close(reserveFd);
      reserveFd = -1;
    }
    try {
      AFUNIXSocketChannel channel = server.accept();
      if (channel != null) {
        refuseOutOfDescriptors(channel);
      }
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

  private void refuseOutOfDescriptors(AFUNIXSocketChannel channel) {
    metrics.connectionRejected(BrokerMetrics.Rejection.DESCRIPTORS);
    refuseOnThisThread(channel, "the broker is out of descriptors; try again later", REFUSAL_LINGER_HERE_MILLIS);
  }

  /**
   * Tells a connection busy and closes it, on this thread, when there is no serving thread to do
   * it: a socket with nothing unread has room for one small reply. Then a short linger, as for any
   * refusal: closing on the client's unread request would reset the connection before it reads why.
   */
  private static void refuseOnThisThread(AFUNIXSocketChannel channel, String why, int lingerMillis) {
    try (channel) {
      channel.configureBlocking(false);
      channel.write(java.nio.ByteBuffer.wrap(Refusal.busy(why)));
      channel.shutdownOutput();
      java.nio.ByteBuffer sink = java.nio.ByteBuffer.allocate(4096);
      long end = System.nanoTime() + lingerMillis * 1_000_000L;
      while (System.nanoTime() < end) {
        sink.clear();
        int n = channel.read(sink);
        if (n < 0) {
          break;
        }
        if (n == 0) {
          sleepQuietly(5);
        }
      }
    } catch (IOException e) {
      // the client is gone: nothing to tell
    }
  }

  private static int reserve() {
    return Posix.openat(Posix.AT_FDCWD, "/", Posix.O_PATH | Posix.O_CLOEXEC);
  }

  private static void closeQuietly(AFUNIXSocketChannel channel) {
    try {
      channel.close();
    } catch (IOException e) {
      // nothing to add
    }
  }

  /**
   * A reload changed the limits: connections already open take the new rate, request timeout and
   * idle timeout from their next request on (they read them afresh); quiet ones are checked against
   * the new idle timeout now. The connection limits apply to the next connection admitted.
   */
  public void limitsChanged() {
    parker.limitsChanged();
    String misfit = budget.fit(policy.get().limits());
    if (misfit != null) {
      // Not a warning: outside the unit (a test, a shell) the limit is often systemd's or less.
      log.info("{}", misfit);
    }
  }

  /** This process's RLIMIT_NOFILE (soft: the one the kernel holds sends to). */
  private static long openFileLimit() {
    if (ManagementFactory.getOperatingSystemMXBean() instanceof UnixOperatingSystemMXBean os) {
      return os.getMaxFileDescriptorCount();
    }
    return 1024;
  }

  /** Connections being served right now. */
  public int activeConnections() {
    return active.get();
  }

  /** Requests answered since start. */
  public long requestsServed() {
    return handler.requestsServed();
  }

  /**
   * Whether the broker is serving (for the systemd watchdog): accepting, and holding its quiet
   * connections.
   */
  public boolean isHealthy() {
    if (!accepting || closed) {
      return false;
    }
    return parker.isRunning() && servers.isRunning();
  }

  /**
   * Ends every connection: idle ones at once, busy ones once their current request is answered.
   * Waits at most {@code timeout}; returns whether all connections ended. Call after {@link #close()}.
   */
  public boolean drain(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    parker.drainAll();
    while (open.get() > 0 && System.nanoTime() < deadline) {
      for (Connection c : live) {
        c.drain(); // idempotent; repeated for any connection that slipped in late
      }
      Thread.sleep(10);
    }
    boolean clean = open.get() == 0;
    parker.stop();
    servers.shutdown();
    return clean;
  }

  /**
   * Stops accepting; {@link #serve()} returns. Connections in progress run on until drained.
   *
   * <p>The listening socket is left as it is: only its owner closes it. An inherited one belongs to
   * the service manager, which keeps it listening for the next broker; shutting it down (as closing
   * it through junixsocket does) would leave it refusing every connection, the next broker's too.
   */
  public void stopAccepting() {
    closed = true;
    Selector selector = acceptWakeup;
    if (selector != null) {
      selector.wakeup();
    }
  }

  private static boolean sleepQuietly(long millis) {
    try {
      Thread.sleep(millis);
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
