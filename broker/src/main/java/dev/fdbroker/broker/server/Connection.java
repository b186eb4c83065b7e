package dev.fdbroker.broker.server;

import dev.fdbroker.broker.audit.AuditEvent;
import dev.fdbroker.broker.logging.ThrottledLog;
import dev.fdbroker.broker.metrics.BrokerMetrics;
import dev.fdbroker.broker.metrics.BrokerMetrics.SendFailure;
import dev.fdbroker.broker.metrics.BrokerMetrics.Op;
import dev.fdbroker.broker.metrics.BrokerMetrics.Outcome;
import dev.fdbroker.broker.policy.Caller;
import dev.fdbroker.broker.policy.Limits;
import dev.fdbroker.broker.policy.Policy;
import dev.fdbroker.broker.posix.Errno;
import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.Frame;
import dev.fdbroker.protocol.FrameDecoder;
import dev.fdbroker.protocol.FramingException;
import dev.fdbroker.protocol.JsonBytes;
import dev.fdbroker.protocol.ProtocolLimits;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.RequestId;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.channels.SelectionKey;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.BrokenPipeSocketException;
import org.newsclub.net.unix.ConnectionResetSocketException;
import org.newsclub.net.unix.SocketClosedException;
import org.newsclub.net.unix.FileDescriptorCast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection. While the client is busy, a thread serves it, blocked in the socket's
 * recv between requests, like a thread per connection; once the client has been quiet for
 * {@link #PARK_AFTER}, the connection is handed to the {@link Parker} and the thread goes back to
 * the pool, and a thread takes it up again when a request arrives. While other connections wait
 * for a thread, a busy one goes behind them after each reply ({@link Home#handOver}), so that a
 * crowd is served by the threads there are instead of waiting for threads to start. It ends on
 * end-of-stream, a framing error, a deadline or any failure, always closing the socket; whatever
 * goes wrong here stays on this connection.
 *
 * <p>One owner at a time: the thread serving it, the queue of connections waiting for a thread,
 * or the parker. Only the owner reads, writes or closes the socket; others may only shut it down,
 * which wakes the owner.
 */
final class Connection implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(Connection.class);
  private static final ThrottledLog sendFailures = new ThrottledLog(log, java.time.Duration.ofMinutes(1));
  /**
   * A client quiet this long gives its thread back. Long enough that a client between two requests
   * keeps its thread (handing a connection over costs a few system calls and a thread wake-up);
   * short enough that idle clients cost no thread for long.
   */
  static final Duration PARK_AFTER = Duration.ofMillis(200);
  /**
   * Descriptors a client may have left unread before the next reply waits for it to read them: one
   * request's worth at most ({@link #unconfirmedDescriptors}). With {@link #UNCONFIRMED_BYTES}, what
   * a connection can pin in its socket.
   */
  static final int UNCONFIRMED_DESCRIPTORS = 64;
  /**
   * Bytes likewise: one largest reply's worth, each reply counted with {@link #MESSAGE_OVERHEAD} more
   * for what the kernel charges the socket per message, so that with the next reply it stays well
   * inside a unix socket's default buffer (net.core.wmem_default, 208 KiB) and a write does not
   * find the socket full.
   */
  static final int UNCONFIRMED_BYTES = 64 * 1024;
  /**
   * What a reply costs the socket's send buffer beyond its bytes: the kernel charges a unix socket
   * each message's whole buffer (measured: 278 replies of 100 bytes filled 208 KiB, some 750 bytes
   * each), so counting bytes alone let a client that pipelines small requests fill the buffer.
   */
  static final int MESSAGE_OVERHEAD = 1024;
  /** Buffer a connection being served keeps: enough for typical requests; a parked one keeps none. */
  private static final int READ_BUFFER = 512;
  private static final int IDLE = 0;
  private static final int BUSY = 1;
  private static final int CLOSED = 2;

  /** What the connection's services are: where it parks, who serves it, how it ends. */
  interface Home {
    /**
     * The limits in force: read afresh for each request, so that a reload reaches connections
     * already open (their rate, request timeout and idle timeout).
     */
    Limits limits();

    /** Takes the connection while it is quiet; returns false if it cannot (shutting down). */
    boolean park(Connection c);

    /**
     * Takes the connection, between two requests, to be served on by another thread, if other
     * connections wait for a thread; false if none wait (the caller serves on). See {@link
     * ServingThreads#handOver}.
     */
    boolean handOver(Connection c);

    /** The descriptors in flight, shared by every connection. */
    DescriptorBudget budget();

    /** Connections served now. */
    int connections();

    /**
     * Takes a connection that has ended but whose client has not yet read the descriptors sent to
     * it, until it has; false if it cannot (shutting down): the caller closes it.
     */
    boolean retire(Connection c);

    /** The connection is closed; called once. */
    void closed(Connection c);
  }

  private final long id;
  private final AFUNIXSocketChannel channel;
  private final int socketFd;
  /** Who the kernel said connected (uid, primary gid, pid), as taken at accept. */
  private final Caller kernelCaller;
  /** The caller in full, worked out when the connection is first served ({@link Peer#of}). */
  private Peer peer;
  private final RequestHandler handler;
  private final BrokerMetrics metrics;
  private final UidLimiter.Account account;
  private final Home home;
  private final FrameDecoder decoder = new FrameDecoder(ProtocolLimits.MAX_FRAME_BYTES, READ_BUFFER);

  /** IDLE while waiting for a request, BUSY from a complete frame until its reply is written. */
  private final AtomicInteger state = new AtomicInteger(IDLE);
  private volatile boolean draining;
  private boolean blocking;
  private int currentTimeoutMillis = -1;
  /** When the frame being read began (its first bytes arrived), or 0 between frames. */
  private long frameStarted;
  /**
   * Descriptors sent since the socket was last seen drained: this connection's share of the budget
   * of descriptors in flight. The owner's to read and write, as is {@link #unconfirmedBytes}.
   */
  private int charged;
  /** Bytes sent since the socket was last seen drained. */
  private int unconfirmedBytes;
  /**
   * Set when a reply was cut short after its first bytes (and its descriptors) went: the stream is
   * broken, so the connection ends once the reply is audited.
   */
  private boolean cutShort;
  /** When the last request was answered (or the connection opened). */
  private long lastActivity;
  /** Whether a reply was just sent, so that {@link #lastActivity} is the time now. */
  private boolean justAnswered;
  /** The parker's registration while it holds the connection. */
  SelectionKey parkedKey;

  /** A connection to serve; its uid's connection is already counted in {@code account}. */
  Connection(long id, AFUNIXSocketChannel channel, Caller kernelCaller, RequestHandler handler, BrokerMetrics metrics,
      UidLimiter.Account account, Home home) throws IOException {
    this.id = id;
    this.channel = channel;
    this.socketFd = FileDescriptorCast.using(channel.getFileDescriptor()).as(Integer.class);
    this.kernelCaller = kernelCaller;
    this.handler = handler;
    this.metrics = metrics;
    this.account = account;
    this.home = home;
    this.blocking = channel.isBlocking();
    this.lastActivity = System.nanoTime();
  }

  long id() {
    return id;
  }

  AFUNIXSocketChannel channel() {
    return channel;
  }

  /** Serves the connection on this thread until it closes or goes quiet (then it is parked). */
  @Override
  public void run() {
    boolean parked = false;
    // Taken up (first, unparked or handed over): the time the connection waited for a thread was
    // the broker's, not the client's, so neither its idle time nor a request's time counts it. A
    // request that came meanwhile is read, not lost to an idle timeout that passed in the queue.
    lastActivity = System.nanoTime();
    justAnswered = true; // lastActivity is the time now
    try {
      if (!blocking) {
        channel.configureBlocking(true);
        blocking = true;
      }
      if (peer == null) {
        peer = handler.identify(id, socketFd, kernelCaller);
        log.debug("connection {}: {}, pid {} ({})", id, peer.caller(), peer.caller().pid(), peer.executable());
      }
      parked = serve();
    } catch (SocketTimeoutException e) {
      log.debug("connection {} timed out: {}", id, e.getMessage());
    } catch (IOException e) {
      log.debug("connection {} ended: {}", id, e.toString());
    } catch (RuntimeException e) {
      log.error("connection {} failed", id, e);
    } finally {
      if (!parked) {
        close();
      }
    }
  }

  /**
   * Serves requests in order; returns true if the connection was parked or handed over to another
   * thread, false if it is to close.
   */
  private boolean serve() throws IOException {
    while (true) {
      Frame frame;
      try {
        frame = nextFrame();
      } catch (FramingException e) {
        // Framing is lost: say why, then hang up.
        long start = System.nanoTime();
        handler.refusedWhole(peer, e.code(), start);
        send(Response.last(new Reply.Failed(RequestId.NONE, e.code(), e.getMessage()), Op.INVALID,
            e.code() == ErrorCode.TOO_LARGE ? Outcome.TOO_LARGE : Outcome.BAD_REQUEST), start);
        return false;
      }
      if (frame == null) {
        return false; // end of stream, or a deadline passed
      }
      if (frame == PARK) {
        return park();
      }
      if (!state.compareAndSet(IDLE, BUSY)) {
        return false; // drained while the frame arrived: the request never started
      }
      frameStarted = 0;
      // One clock reading where a request starts and one where its reply is out serve the rate
      // limit, the audit, the metrics and the idle deadline: at some 50 ns each, a dozen readings
      // were a few per cent of a request's cost.
      long start = System.nanoTime();
      boolean withinRate = account.tryRequest(home.limits().requestsPerSecondPerUid(), start);
      // One policy for the whole request: the caller completed under it is the caller judged by it.
      Policy snapshot = handler.policyNow();
      peer = handler.complete(peer, socketFd, snapshot);
      try (Response response = handler.handle(peer, snapshot, frame, withinRate, start)) {
        String undelivered = AuditEvent.NOT_DELIVERED;
        try {
          undelivered = send(response, start);
        } finally {
          handler.finished(response, undelivered);
        }
      }
      if (cutShort) {
        return false; // ended (retired until its client reads what went, see close())
      }
      justAnswered = true;
      state.set(IDLE);
      if (draining) {
        return false;
      }
      if (home.handOver(this)) {
        return true; // its next request is served by whichever thread takes it from the queue
      }
    }
  }

  /** Returned by {@link #nextFrame} when the client has been quiet long enough to park. */
  private static final Frame PARK = new Frame(new byte[0], 0, 0);

  /**
   * The next request frame; {@link #PARK} if none came within {@link #PARK_AFTER}; null at the end
   * of the stream or when the idle deadline passed.
   */
  private Frame nextFrame() throws IOException {
    while (true) {
      Frame frame = decoder.next();
      if (frame != null) {
        return frame;
      }
      Limits limits = home.limits(); // each wait ends within PARK_AFTER, so a reload is seen soon
      // Right after a reply the clock was just read (lastActivity); any later wait reads it afresh.
      long now = justAnswered ? lastActivity : System.nanoTime();
      justAnswered = false;
      int timeout;
      boolean betweenFrames = !decoder.midFrame();
      if (betweenFrames) {
        frameStarted = 0;
        long idleLeft = lastActivity + limits.idleTimeout().toNanos() - now;
        if (idleLeft <= 0) {
          log.debug("connection {} idle for {}: closing", id, limits.idleTimeout());
          return null;
        }
        timeout = millis(Math.min(idleLeft, PARK_AFTER.toNanos()));
      } else {
        if (frameStarted == 0) {
          frameStarted = now | 1; // never 0, which means "between frames"
        }
        long left = frameStarted + limits.requestTimeout().toNanos() - now;
        if (left <= 0) {
          throw new SocketTimeoutException("slow sender: frame not complete within " + limits.requestTimeout());
        }
        timeout = millis(left);
      }
      setTimeout(timeout);
      int n = Posix.recv(socketFd, decoder.array(), decoder.writeOffset(), decoder.writable(), 0);
      if (n == -Errno.EAGAIN) {
        if (betweenFrames && idleDeadline() - System.nanoTime() > 0) {
          return PARK;
        }
        continue; // a deadline: checked at the top
      }
      if (n < 0) {
        throw new IOException("recv: " + Errno.name(-n));
      }
      if (n == 0) {
        if (decoder.midFrame()) {
          throw new EOFException("stream ended inside a frame");
        }
        return null;
      }
      decoder.received(n);
    }
  }

  private boolean park() throws IOException {
    decoder.release(); // a quiet connection keeps no buffer: thousands of them may wait
    channel.configureBlocking(false);
    blocking = false;
    return home.park(this);
  }

  /** When the connection will have been idle too long (the idle timeout in force now). */
  long idleDeadline() {
    return lastActivity + home.limits().idleTimeout().toNanos();
  }

  /**
   * Ends this connection for a shutdown: at once if it is waiting for a request, else right after
   * the request in progress is answered. Only wakes the owner; the owner closes.
   */
  void drain() {
    draining = true;
    if (state.get() == IDLE) {
      try {
        channel.shutdownInput(); // the blocked recv returns end-of-stream
      } catch (IOException e) {
        // already shut or closed
      }
    }
  }

  private void setTimeout(int millis) throws IOException {
    if (millis != currentTimeoutMillis) {
      channel.socket().setSoTimeout(millis);
      currentTimeoutMillis = millis;
    }
  }

  /**
   * Sends a reply, holding what a client may leave unread in its socket to a little: before a reply
   * would make more than {@link #UNCONFIRMED_DESCRIPTORS} descriptors or {@link #UNCONFIRMED_BYTES}
   * bytes sent since the socket was last seen drained, the client must read everything sent so far
   * (waited for up to the request timeout, else it is cut off). A client that pipelines requests
   * without reading can thus pin at most that much in its socket (and its uid's budget bounds it
   * too); and since that stays well inside the socket's default buffer, a write does not find it
   * full, so the descriptors go with the reply's first byte and a write does not block. Should it
   * all the same (a send buffer made smaller than the default) and be cut short by the socket's
   * timeout after its first bytes, the descriptors did go: they stay charged, the grants are
   * audited as sent, and the connection ends (its stream is broken) and retires until they are
   * read. Looking at the socket only then, not before every reply, saves a system call per request:
   * a client that reads its replies (every client-lib one does) is always found drained.
   *
   * <p>Descriptors go only within the budget of descriptors in flight ({@link DescriptorBudget});
   * over it, or if the kernel refuses them, the client is told {@code busy} instead. Returns why the
   * reply's granted files did not reach the client ({@code busy}, {@code not_delivered}), or null
   * if they did; throws if the client is gone. Sets {@link #lastActivity} to when it is done.
   */
  private String send(Response response, long startNanos) throws IOException {
    int count = response.fds().length;
    if (charged + count > unconfirmedDescriptors()
        || unconfirmedBytes + response.frame().length() + MESSAGE_OVERHEAD > UNCONFIRMED_BYTES) {
      awaitDrained();
    }
    String undelivered = null;
    Outcome outcome = response.outcome();
    DescriptorBudget budget = home.budget();
    if (!charge(count)) {
      Limits limits = home.limits();
      writeBusyInstead(response, "uid " + peer.caller().uid() + " holds its limit of descriptors not yet received ("
          + limits.maxDescriptorsInFlightPerUid() + " for a uid, " + budget.totalLimit(limits)
          + " in all); receive them, then ask again");
      undelivered = ErrorCode.BUSY.wireName();
      outcome = Outcome.BUSY;
    } else {
      try {
        write(response);
      } catch (CutShortException e) {
        // The first bytes went, and the descriptors with them: they are the client's now.
        sendFailures.warn("a reply to uid {} was cut short after {} bytes ({}); ending the connection",
            peer.caller().uid(), e.sent(), e.getMessage());
        metrics.sendFailed(SendFailure.OTHER);
        cutShort = true;
      } catch (IOException e) {
        budget.release(account, count); // not sent: those never left
        charged -= count;
        if (count == 0 || clientGone(e)) {
          metrics.sendFailed(clientGone(e) ? SendFailure.CLIENT_GONE : SendFailure.OTHER);
          throw e;
        }
        // The reply was refused for its descriptors and the client is still there: most likely the
        // kernel's own limit (ETOOMANYREFS), reached by descriptors this budget does not see (a
        // previous broker's, still unread).
        boolean refused = e instanceof SendFailedException s && s.errno() == Errno.ETOOMANYREFS;
        metrics.sendFailed(refused ? SendFailure.DESCRIPTORS_REFUSED : SendFailure.OTHER);
        sendFailures.warn("could not pass {} descriptors to uid {} ({}){}; answering busy", count,
            peer.caller().uid(), e.toString(), refused ? ": the broker's user has more descriptors in flight than its"
                + " RLIMIT_NOFILE allows, unread by clients (perhaps sent by an earlier broker)" : "");
        writeBusyInstead(response, "the broker could not pass the descriptors (the kernel refused them); try again later");
        undelivered = AuditEvent.NOT_DELIVERED;
        outcome = Outcome.BUSY;
      }
    }
    long end = System.nanoTime();
    metrics.request(response.op(), outcome, end - startNanos);
    if (undelivered == null) {
      metrics.descriptorsSent(count);
    }
    lastActivity = end;
    return undelivered;
  }

  /** Answers {@code busy} in place of a reply whose descriptors cannot go. */
  private void writeBusyInstead(Response response, String why) throws IOException {
    write(Response.of(new Reply.Failed(response.id(), ErrorCode.BUSY, why), response.op(), Outcome.BUSY));
  }

  private static boolean clientGone(IOException e) {
    if (e instanceof SendFailedException s) {
      return s.errno() == Errno.EPIPE || s.errno() == Errno.ECONNRESET;
    }
    return e instanceof BrokenPipeSocketException || e instanceof ConnectionResetSocketException
        || e instanceof SocketClosedException || e instanceof java.nio.channels.ClosedChannelException;
  }

  /**
   * Waits until the client has read everything sent to it (at most the request timeout); then the
   * descriptors of the last reply have reached it, and their charge is given back.
   */
  private void awaitDrained() throws IOException {
    Limits limits = home.limits();
    long deadline = 0;
    long pauseNanos = 20_000;
    while (true) {
      int unread = Posix.unreadByPeer(socketFd);
      if (unread == 0) {
        delivered();
        return;
      }
      if (unread < 0) {
        throw new IOException("ioctl(SIOCOUTQ) failed: " + Errno.name(-unread));
      }
      long now = System.nanoTime();
      if (deadline == 0) {
        deadline = now + limits.requestTimeout().toNanos();
      } else if (now > deadline) {
        throw new SocketTimeoutException("client did not read its replies within " + limits.requestTimeout());
      }
      try {
        Thread.sleep(Duration.ofNanos(pauseNanos));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted while waiting for the client to read");
      }
      pauseNanos = Math.min(pauseNanos * 2, 10_000_000);
    }
  }

  /**
   * How many descriptors this connection may have sent unconfirmed before the next reply looks at
   * the socket: {@link #UNCONFIRMED_DESCRIPTORS}, or less when many connections share the budget,
   * so that what all of a uid's connections (or everyone's) hold unconfirmed stays within half its
   * budget. Otherwise 256 busy connections of one uid that read every reply would hold 64
   * delivered descriptors each against the budget, and be told busy.
   */
  private int unconfirmedDescriptors() {
    Limits limits = home.limits();
    int forUid = limits.maxDescriptorsInFlightPerUid() / (2 * Math.max(1, account.connections()));
    int forAll = home.budget().totalLimit(limits) / (2 * Math.max(1, home.connections()));
    return Math.max(1, Math.min(UNCONFIRMED_DESCRIPTORS, Math.min(forUid, forAll)));
  }

  /**
   * Takes {@code count} more from the budget of descriptors in flight, for the reply about to go.
   * If the uid or everyone would go over it, and this connection still holds descriptors sent
   * earlier, it first waits for the client to have read those, so as not to count them against
   * it. False if it is over all the same: then nothing more is held.
   */
  private boolean charge(int count) throws IOException {
    if (count == 0) {
      return true;
    }
    DescriptorBudget budget = home.budget();
    if (!budget.take(account, count, home.limits())) {
      if (charged == 0) {
        return false;
      }
      awaitDrained();
      if (!budget.take(account, count, home.limits())) {
        return false;
      }
    }
    charged += count;
    return true;
  }

  /** The client has read everything sent to it: the descriptors sent are no longer in flight. */
  private void delivered() {
    unconfirmedBytes = 0;
    if (charged > 0) {
      home.budget().release(account, charged);
      charged = 0;
    }
  }

  /**
   * Whether descriptors sent on this connection may still be waiting unread in the client's socket;
   * if not, their charge is given back. For the owner (a serving thread, the parker) of a
   * connection that is quiet or retiring.
   */
  boolean holdsDescriptorsInFlight() {
    if (charged == 0) {
      return false;
    }
    if (Posix.unreadByPeer(socketFd) > 0) {
      return true;
    }
    delivered(); // read (0), or the socket is broken (< 0): the kernel has let go of them either way
    return false;
  }

  /**
   * Writes the frame in one write, with the descriptors attached to it (one sendmsg with
   * SCM_RIGHTS; the socket has room, see {@link #send}, so the whole frame goes at once unless a
   * signal or the socket's timeout cuts it short, and then the rest follows without them).
   */
  private void write(Response response) throws IOException {
    JsonBytes frame = response.frame(); // the thread's reply frame, in place: no array per reply
    byte[] bytes = frame.array();
    int length = frame.length();
    int[] fds = response.fds();
    unconfirmedBytes += length + MESSAGE_OVERHEAD;
    int sent = 0;
    int attached = fds.length;
    while (sent < length) {
      long n = Posix.sendmsg(socketFd, bytes, sent, length - sent, fds, attached);
      if (n < 0) {
        if (sent > 0) {
          throw new CutShortException(sent, (int) -n);
        }
        throw new SendFailedException((int) -n);
      }
      sent += (int) n;
      attached = 0; // sent with the first byte
    }
  }

  /** A reply whose first {@code sent} bytes went (with its descriptors, if any), and the rest not. */
  static final class CutShortException extends IOException {
    private final int sent;

    CutShortException(int sent, int errno) {
      super("sendmsg: " + Errno.name(errno));
      this.sent = sent;
    }

    int sent() {
      return sent;
    }
  }

  /** A sendmsg that failed, with its errno. */
  static final class SendFailedException extends IOException {
    private final int errno;

    SendFailedException(int errno) {
      super("sendmsg: " + Errno.name(errno));
      this.errno = errno;
    }

    int errno() {
      return errno;
    }
  }

  /**
   * Ends the connection; only the owner calls this. If descriptors it sent are still unread, the
   * connection is not closed yet but retires to the parker (half-closed: the client can still read
   * what is there, then sees the end), keeping its connection slot and its charge until the client
   * reads them or closes: closing our end would not free them (they sit in the client's socket,
   * charged to the broker's user), and a client that hangs up half-way (SHUT_WR) to free its slot
   * could otherwise pile up descriptors past every limit.
   */
  void close() {
    if (state.get() == CLOSED) {
      return;
    }
    if (!draining && holdsDescriptorsInFlight()) {
      try {
        channel.shutdownOutput();
        channel.configureBlocking(false);
        blocking = false;
        if (home.retire(this)) {
          return;
        }
      } catch (IOException e) {
        // cannot retire it: closed below, and the charge with it
      }
    }
    closeNow();
  }

  /** Closes the socket and gives back whatever it held. */
  void closeNow() {
    if (state.getAndSet(CLOSED) == CLOSED) {
      return;
    }
    try {
      channel.close();
    } catch (IOException e) {
      // closing anyway
    }
    home.budget().release(account, charged); // sent, and gone with the client, or the broker is stopping
    charged = 0;
    account.release();
    metrics.connectionClosed();
    home.closed(this);
  }

  boolean isClosed() {
    return state.get() == CLOSED;
  }

  private static int millis(long nanos) {
    return (int) Math.max(1, Math.min(Integer.MAX_VALUE, (nanos + 999_999) / 1_000_000));
  }
}
