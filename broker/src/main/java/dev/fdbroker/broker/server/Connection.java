package dev.fdbroker.broker.server;

import dev.fdbroker.broker.metrics.BrokerMetrics;
import dev.fdbroker.broker.metrics.BrokerMetrics.Op;
import dev.fdbroker.broker.metrics.BrokerMetrics.Outcome;
import dev.fdbroker.broker.policy.Caller;
import dev.fdbroker.broker.policy.Limits;
import dev.fdbroker.broker.posix.Errno;
import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.Frame;
import dev.fdbroker.protocol.FrameReader;
import dev.fdbroker.protocol.FramingException;
import dev.fdbroker.protocol.ProtocolLimits;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.RequestId;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.newsclub.net.unix.FileDescriptorCast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves one client connection on its own thread: reads request frames in order, answers
 * each, and ends on end-of-stream, a framing error, a timeout or any failure, always closing the
 * socket. Whatever goes wrong here stays on this connection.
 */
final class Connection implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(Connection.class);
  /** Buffer an idle connection keeps: enough for typical requests, small enough for thousands of idle clients. */
  private static final int READ_BUFFER = 1024;
  /** uid_t and gid_t are 32 bits; (uid_t) -1 means the kernel reported no credentials. */
  private static final long NO_ID = 0xffffffffL;

  private final long id;
  private final AFUNIXSocket socket;
  private final RequestHandler handler;
  private final BrokerMetrics metrics;
  private final UidLimiter uids;
  private final Limits limits;
  private final Consumer<Connection> onClose;
  private final Reply refusal;
  private final int lingerMillis;

  private static final int IDLE = 0;
  private static final int BUSY = 1;
  private static final int CLOSED = 2;
  /** IDLE while waiting for a request, BUSY from a complete frame until its reply is written. */
  private final AtomicInteger state = new AtomicInteger(IDLE);
  private volatile boolean draining;

  private int socketFd = -1;
  private int currentTimeoutMillis = -1;
  /** When the frame being read must be complete, or 0 between frames. */
  private long frameDeadline;

  /** A connection to serve, if its uid is within its limits. */
  Connection(long id, AFUNIXSocket socket, RequestHandler handler, BrokerMetrics metrics, UidLimiter uids,
      Limits limits, Consumer<Connection> onClose) {
    this(id, socket, handler, metrics, uids, limits, null, 0, onClose);
  }

  /**
   * A connection that is not admitted: {@code refusal} is sent and the connection closed, after at
   * most {@code lingerMillis} waiting for the client's first request.
   */
  Connection(long id, AFUNIXSocket socket, Reply refusal, int lingerMillis,
      Consumer<Connection> onClose) {
    this(id, socket, null, null, null, null, refusal, lingerMillis, onClose);
  }

  private Connection(long id, AFUNIXSocket socket, RequestHandler handler, BrokerMetrics metrics, UidLimiter uids,
      Limits limits, Reply refusal, int lingerMillis, Consumer<Connection> onClose) {
    this.id = id;
    this.socket = socket;
    this.handler = handler;
    this.metrics = metrics;
    this.uids = uids;
    this.limits = limits;
    this.refusal = refusal;
    this.lingerMillis = lingerMillis;
    this.onClose = onClose;
  }

  @Override
  public void run() {
    try (socket) {
      if (refusal != null) {
        refuse(refusal, lingerMillis);
        return;
      }
      Caller caller = caller(socket.getPeerCredentials());
      if (caller == null) {
        log.warn("connection {}: the kernel reported no peer credentials; closing", id);
        return;
      }
      if (!uids.admit(caller.uid(), limits.maxConnectionsPerUid(), limits.requestsPerSecondPerUid())) {
        metrics.connectionRejected(BrokerMetrics.Rejection.UID_LIMIT);
        log.debug("connection {}: uid {} holds its limit of {} connections", id, caller.uid(), limits.maxConnectionsPerUid());
        refuse(new Reply.Failed(RequestId.NONE, ErrorCode.BUSY, "uid " + caller.uid() + " holds its limit of "
            + limits.maxConnectionsPerUid() + " connections; try again later"), REFUSAL_LINGER_MILLIS);
        return;
      }
      metrics.connectionOpened();
      try {
        Peer peer = Peer.of(id, caller);
        log.debug("connection {} from uid {} gid {} pid {} ({})", id, caller.uid(), caller.gid(), caller.pid(), peer.executable());
        socketFd = FileDescriptorCast.using(socket.getFileDescriptor()).as(Integer.class);
        serve(peer);
      } finally {
        uids.release(caller.uid());
        metrics.connectionClosed();
      }
    } catch (SocketTimeoutException e) {
      log.debug("connection {} timed out: {}", id, e.getMessage());
    } catch (IOException e) {
      log.debug("connection {} ended: {}", id, e.toString());
    } catch (RuntimeException e) {
      log.error("connection {} failed", id, e);
    } finally {
      onClose.accept(this);
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

  /**
   * Answers a connection that is not admitted. A client usually writes its request right after
   * connecting; were the socket already closed, that write would fail (EPIPE) and the client would
   * never read why. So the broker half-closes, lets the request arrive (briefly), then closes.
   */
  static final int REFUSAL_LINGER_MILLIS = 500;

  private void refuse(Reply reply, int lingerMillis) throws IOException {
    write(Response.last(reply, null, null));
    if (lingerMillis <= 0) {
      return;
    }
    // Through the channel: java.net.Socket's own check wrongly calls an accepted junixsocket socket unconnected.
    socket.getChannel().shutdownOutput();
    socket.setSoTimeout(lingerMillis);
    byte[] sink = new byte[4096];
    long deadline = System.nanoTime() + lingerMillis * 1_000_000L;
    while (System.nanoTime() < deadline && socket.getInputStream().read(sink) > 0) {
      // discard: the request will not be served
    }
  }

  private void serve(Peer peer) throws IOException {
    FrameReader reader = new FrameReader(socket.getInputStream(), ProtocolLimits.MAX_FRAME_BYTES,
        READ_BUFFER, this::pace);
    while (true) {
      Frame frame;
      try {
        frame = reader.next();
      } catch (FramingException e) {
        // Framing is lost: say why, then hang up.
        long start = System.nanoTime();
        handler.refusedWhole(peer, e.code(), start);
        send(Response.last(new Reply.Failed(RequestId.NONE, e.code(), e.getMessage()), Op.INVALID,
            e.code() == ErrorCode.TOO_LARGE ? Outcome.TOO_LARGE : Outcome.BAD_REQUEST), start);
        return;
      }
      if (frame == null || !state.compareAndSet(IDLE, BUSY)) {
        return; // end of stream, or drained while the frame arrived: the request never started
      }
      frameDeadline = 0;
      long start = System.nanoTime();
      boolean withinRate = uids.tryRequest(peer.caller().uid(), limits.requestsPerSecondPerUid());
      try (Response response = handler.handle(peer, frame, withinRate)) {
        send(response, start);
      }
      state.set(IDLE);
      if (draining) {
        return;
      }
    }
  }

  /**
   * Ends this connection for a shutdown: at once if it is waiting for a request, else right after
   * the request in progress is answered.
   */
  void drain() {
    draining = true;
    if (state.compareAndSet(IDLE, CLOSED)) {
      try {
        socket.close(); // wakes the blocked read
      } catch (IOException e) {
        // closing anyway
      }
    }
  }

  /**
   * Between frames a connection may idle for the idle timeout; once a frame has begun, all of it
   * must arrive within the request timeout, so a client dribbling a byte at a time is cut off.
   */
  private void pace(boolean midFrame) throws IOException {
    if (!midFrame && frameDeadline == 0) {
      setTimeout(millis(limits.idleTimeout()));
      return;
    }
    long now = System.nanoTime();
    if (frameDeadline == 0) {
      frameDeadline = now + limits.requestTimeout().toNanos();
    }
    long remaining = (frameDeadline - now) / 1_000_000;
    if (remaining <= 0) {
      throw new SocketTimeoutException("slow sender: frame not complete within " + limits.requestTimeout());
    }
    setTimeout((int) Math.min(Integer.MAX_VALUE, remaining));
  }

  private void setTimeout(int millis) throws IOException {
    if (millis != currentTimeoutMillis) {
      socket.setSoTimeout(millis);
      currentTimeoutMillis = millis;
    }
  }

  /**
   * Sends a reply, but only once the client has read every earlier one: a reply is never queued
   * behind unread ones. A client that pipelines requests without reading can thus pin at most one
   * reply's descriptors in its socket, and is cut off after the request timeout. And a write into a
   * drained socket never finds it full, which keeps the descriptors safe should it ever be written
   * non-blocking: junixsocket, as it does on virtual threads, drops the descriptors of a write that
   * meets EAGAIN.
   */
  private void send(Response response, long startNanos) throws IOException {
    awaitDrained();
    write(response);
    metrics.request(response.op(), response.outcome(), System.nanoTime() - startNanos);
    metrics.descriptorsSent(response.fds().length);
  }

  private void awaitDrained() throws IOException {
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
    OutputStream out = socket.getOutputStream();
    int[] fds = response.fds();
    if (fds.length > 0) {
      FileDescriptor[] objs = new FileDescriptor[fds.length];
      for (int i = 0; i < fds.length; i++) {
        objs[i] = FileDescriptorCast.unsafeUsing(fds[i]).getFileDescriptor();
      }
      socket.setOutboundFileDescriptors(objs);
    }
    try {
      out.write(response.frame());
    } finally {
      if (fds.length > 0) {
        socket.setOutboundFileDescriptors((FileDescriptor[]) null);
      }
    }
  }

  private static int millis(Duration d) {
    return (int) Math.max(1, Math.min(Integer.MAX_VALUE, d.toMillis()));
  }
}
