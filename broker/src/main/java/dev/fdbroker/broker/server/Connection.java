package dev.fdbroker.broker.server;

import dev.fdbroker.broker.metrics.BrokerMetrics;
import dev.fdbroker.broker.metrics.BrokerMetrics.Op;
import dev.fdbroker.broker.metrics.BrokerMetrics.Outcome;
import dev.fdbroker.broker.policy.Limits;
import dev.fdbroker.broker.posix.Errno;
import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.Frame;
import dev.fdbroker.protocol.FrameDecoder;
import dev.fdbroker.protocol.FramingException;
import dev.fdbroker.protocol.ProtocolLimits;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.RequestId;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.FileDescriptorCast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection. While the client is busy, a thread serves it, blocked in the socket's
 * recv between requests, like a thread per connection; once the client has been quiet for
 * {@link #PARK_AFTER}, the connection is handed to the {@link Parker} and the thread goes back to
 * the pool, and a thread takes it up again when a request arrives. It ends on end-of-stream, a
 * framing error, a deadline or any failure, always closing the socket; whatever goes wrong here
 * stays on this connection.
 *
 * <p>One owner at a time: the thread serving it, or the parker. Only the owner reads, writes or
 * closes the socket; others may only shut it down, which wakes the owner.
 */
final class Connection implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(Connection.class);
  /**
   * A client quiet this long gives its thread back. Long enough that a client between two requests
   * keeps its thread (handing a connection over costs a few system calls and a thread wake-up);
   * short enough that idle clients cost no thread for long.
   */
  static final Duration PARK_AFTER = Duration.ofMillis(200);
  /** Buffer an idle connection keeps: enough for typical requests, small enough for thousands of idle clients. */
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

    /** Descriptor objects for junixsocket to send. */
    FileDescriptor descriptor(int fd) throws IOException;

    /** The connection is closed; called once. */
    void closed(Connection c);
  }

  private final long id;
  private final AFUNIXSocketChannel channel;
  private final int socketFd;
  private final Peer peer;
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
  /** When the last request was answered (or the connection opened). */
  private long lastActivity;
  /** Whether a reply was just sent, so that {@link #lastActivity} is the time now. */
  private boolean justAnswered;
  /** The parker's registration while it holds the connection. */
  SelectionKey parkedKey;

  /** A connection to serve; its uid's connection is already counted in {@code account}. */
  Connection(long id, AFUNIXSocketChannel channel, Peer peer, RequestHandler handler, BrokerMetrics metrics,
      UidLimiter.Account account, Home home) throws IOException {
    this.id = id;
    this.channel = channel;
    this.socketFd = FileDescriptorCast.using(channel.getFileDescriptor()).as(Integer.class);
    this.peer = peer;
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
    try {
      if (!blocking) {
        channel.configureBlocking(true);
        blocking = true;
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

  /** Serves requests in order; returns true if the connection was parked, false if it is to close. */
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
      long end;
      try (Response response = handler.handle(peer, frame, withinRate, start)) {
        boolean delivered = false;
        try {
          end = send(response, start);
          delivered = true;
        } finally {
          handler.finished(response, delivered);
        }
      }
      lastActivity = end;
      justAnswered = true;
      state.set(IDLE);
      if (draining) {
        return false;
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
   * Sends a reply, but only once the client has read every earlier one: a reply is never queued
   * behind unread ones. A client that pipelines requests without reading can thus pin at most one
   * reply's descriptors in its socket, and is cut off after the request timeout. And a write into a
   * drained socket never finds it full, so the descriptors go with the reply's first byte.
   */
  private long send(Response response, long startNanos) throws IOException {
    awaitDrained();
    write(response);
    long end = System.nanoTime();
    metrics.request(response.op(), response.outcome(), end - startNanos);
    metrics.descriptorsSent(response.fds().length);
    return end;
  }

  private void awaitDrained() throws IOException {
    Limits limits = home.limits();
    long deadline = 0;
    long pauseNanos = 20_000;
    while (true) {
      int unread = Posix.unreadByPeer(socketFd);
      if (unread == 0) {
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

  /** Writes the frame in one write, with the descriptors attached to it (one sendmsg with SCM_RIGHTS). */
  private void write(Response response) throws IOException {
    int[] fds = response.fds();
    if (fds.length > 0) {
      FileDescriptor[] objs = new FileDescriptor[fds.length];
      for (int i = 0; i < fds.length; i++) {
        objs[i] = home.descriptor(fds[i]);
      }
      channel.setOutboundFileDescriptors(objs);
    }
    ByteBuffer frame = ByteBuffer.wrap(response.frame());
    try {
      while (frame.hasRemaining()) {
        channel.write(frame);
        if (fds.length > 0) {
          channel.setOutboundFileDescriptors((FileDescriptor[]) null); // sent with the first byte
        }
      }
    } finally {
      if (fds.length > 0) {
        channel.setOutboundFileDescriptors((FileDescriptor[]) null);
      }
    }
  }

  /** Closes the socket; only the owner calls this. */
  void close() {
    if (state.getAndSet(CLOSED) == CLOSED) {
      return;
    }
    try {
      channel.close();
    } catch (IOException e) {
      // closing anyway
    }
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
