package dev.fdbroker.broker.server;

import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.RequestId;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * A connection that is not admitted (at a connection limit): it is told {@code busy} and why,
 * lingers briefly, and is closed. Served on a pool thread like a connection, since the linger
 * waits.
 *
 * <p>Why linger: a client usually writes its request right after connecting; were the socket
 * closed at once, the unread request would reset the connection and the client would never read
 * why. So the broker half-closes, lets the request arrive (briefly, discarded), then closes.
 */
final class Refusal implements ServingThreads.Brief {
  /** How long a refused connection lingers, at most. */
  static final int LINGER_MILLIS = 500;

  private final AFUNIXSocketChannel channel;
  private final String why;
  private final int lingerMillis;
  private final Runnable onClosed;

  /**
   * @param lingerMillis how long to wait for the client's request (0: close at once)
   * @param onClosed told once the connection is closed
   */
  Refusal(AFUNIXSocketChannel channel, String why, int lingerMillis, Runnable onClosed) {
    this.channel = channel;
    this.why = why;
    this.lingerMillis = lingerMillis;
    this.onClosed = onClosed;
  }

  @Override
  public void run() {
    try {
      channel.configureBlocking(true);
      channel.write(ByteBuffer.wrap(busy(why)));
      if (lingerMillis > 0) {
        channel.shutdownOutput();
        channel.socket().setSoTimeout(lingerMillis);
        int fd = FileDescriptorCast.using(channel.getFileDescriptor()).as(Integer.class);
        byte[] sink = new byte[4096];
        long deadline = System.nanoTime() + lingerMillis * 1_000_000L;
        while (System.nanoTime() < deadline) {
          if (Posix.recv(fd, sink, 0, sink.length, 0) <= 0) {
            break; // end of stream, the linger's timeout, or an error: done either way
          }
        }
      }
    } catch (IOException e) {
      // the client is gone: nothing to tell
    } finally {
      close();
    }
  }

  AFUNIXSocketChannel channel() {
    return channel;
  }

  /** Why the connection is refused, for telling it on another thread when none is to be had. */
  String why() {
    return why;
  }

  /** Closes (once told, or with nothing to tell), and says so. */
  void close() {
    try {
      channel.close();
    } catch (IOException e) {
      // closing anyway
    } finally {
      onClosed.run();
    }
  }

  /** The busy reply frame, before any request was read (so with no id); a copy of the thread's reply frame. */
  static byte[] busy(String why) {
    return Response.last(new Reply.Failed(RequestId.NONE, ErrorCode.BUSY, why), null, null).frame().toBytes();
  }
}
