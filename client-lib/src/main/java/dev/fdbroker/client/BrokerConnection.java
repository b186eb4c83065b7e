package dev.fdbroker.client;

import dev.fdbroker.protocol.FileResult;
import dev.fdbroker.protocol.Frame;
import dev.fdbroker.protocol.FrameReader;
import dev.fdbroker.protocol.FramingException;
import dev.fdbroker.protocol.MalformedReplyException;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.ReplyCodec;
import dev.fdbroker.protocol.Request;
import dev.fdbroker.protocol.RequestCodec;
import dev.fdbroker.protocol.RequestId;
import java.io.Closeable;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

/** One connection to the broker, used by one thread at a time. */
final class BrokerConnection implements Closeable {
  /**
   * Most descriptors this end can take in one message. junixsocket 2.11 caps its ancillary receive
   * buffer at 256 bytes (16 for the cmsg header, 4 per descriptor), and the kernel discards the
   * descriptors of a message that does not fit. So batches are sent in requests of at most this many
   * paths, though the protocol allows 64.
   */
  static final int MAX_DESCRIPTORS_PER_REPLY = 60;

  private static final int ANCILLARY_BUFFER_BYTES = 16 + 4 * MAX_DESCRIPTORS_PER_REPLY;

  static {
    // This class is client-lib's only user of junixsocket, and the JVM initializes it before its
    // first method runs, so before junixsocket loads its native library.
    JunixsocketLibrary.preferInstalled();
  }

  private final AFUNIXSocket socket;
  private final OutputStream out;
  private final FrameReader reader;
  private int replyTimeoutMillis;
  private long nextId = 1;

  private BrokerConnection(AFUNIXSocket socket, int replyTimeoutMillis) throws IOException {
    this.socket = socket;
    this.out = socket.getOutputStream();
    this.reader = new FrameReader(socket.getInputStream());
    this.replyTimeoutMillis = replyTimeoutMillis;
  }

  static BrokerConnection open(Path socketPath, int connectTimeoutMillis, int replyTimeoutMillis)
      throws IOException {
    AFUNIXSocket socket = AFUNIXSocket.newInstance();
    try {
      socket.connect(AFUNIXSocketAddress.of(socketPath), connectTimeoutMillis);
      socket.setSoTimeout(replyTimeoutMillis);
      // Without this the kernel drops every descriptor the broker sends (junixsocket's default is 0).
      socket.ensureAncillaryReceiveBufferSize(ANCILLARY_BUFFER_BYTES);
      return new BrokerConnection(socket, replyTimeoutMillis);
    } catch (IOException e) {
      socket.close();
      throw e;
    }
  }

  /** How long a reply may take on this connection from now on. */
  void replyTimeout(int millis) throws IOException {
    // Two system calls: worth skipping when nothing changes, which is nearly always.
    if (millis != replyTimeoutMillis) {
      socket.setSoTimeout(millis);
      replyTimeoutMillis = millis;
    }
  }

  /** The reply to a ping. */
  Reply ping() throws IOException {
    return exchange(new Request.Ping(RequestId.ofNumber(nextId++)), null);
  }

  /**
   * Asks the broker to open the paths. On success, granted files come back as {@link
   * BrokeredFile}s in {@code filesOut}, in the order of the reply's granted entries.
   */
  Reply open(List<String> paths, List<BrokeredFile> filesOut) throws IOException {
    return exchange(new Request.Open(RequestId.ofNumber(nextId++), paths), filesOut);
  }

  /** Asks the broker to describe the paths: a {@link Reply.Stated}, or a whole-request failure. */
  Reply stat(List<String> paths) throws IOException {
    return exchange(new Request.Stat(RequestId.ofNumber(nextId++), paths), null);
  }

  /**
   * Asks the broker for a page of the directory's entries: a {@link Reply.Listed}, or a {@link
   * Reply.Failed} with the directory's code (or a whole-request failure).
   *
   * @param cursor the previous page's cursor, or null for the first page
   */
  Reply list(String directory, String cursor) throws IOException {
    return exchange(new Request.List(RequestId.ofNumber(nextId++), directory, cursor), null);
  }

  private Reply exchange(Request request, List<BrokeredFile> filesOut) throws IOException {
    out.write(RequestCodec.encode(request));
    Frame frame;
    try {
      frame = reader.next();
    } catch (IOException e) {
      // Descriptors arrive with a reply's first bytes, so a reply cut short may have brought some.
      // Closed now: the request may be retried, and none of them may outlive this failed exchange.
      closeAll(socket.getReceivedFileDescriptors());
      if (e instanceof FramingException) {
        throw new MalformedReplyException("the reply's frame header is invalid: " + e.getMessage());
      }
      throw e;
    }
    FileDescriptor[] received = socket.getReceivedFileDescriptors();
    try {
      if (frame == null) {
        throw new EOFException("fdbroker closed the connection without replying");
      }
      // The op tells a stat's all-refused reply from an open's: their entries look alike.
      Reply reply = ReplyCodec.decode(frame, request.op());
      checkId(request, reply);
      checkKind(request, reply);
      if (reply instanceof Reply.Opened) {
        adopt((Reply.Opened) reply, received, filesOut);
        received = null;
      } else if (received != null && received.length > 0) {
        throw new MalformedReplyException("a reply without granted files carried descriptors");
      }
      return reply;
    } finally {
      closeAll(received);
    }
  }

  private static void checkId(Request request, Reply reply) throws MalformedReplyException {
    // A broker that could not read the request answers with a null id.
    if (!reply.id().equals(request.id())
        && !(reply instanceof Reply.Failed && reply.id().equals(RequestId.NONE))) {
      throw new MalformedReplyException(
          "reply id " + reply.id() + " does not match request id " + request.id());
    }
  }

  /** A reply must answer the request's op, or be a failure. */
  private static void checkKind(Request request, Reply reply) throws MalformedReplyException {
    boolean answers = reply instanceof Reply.Failed
        || (request instanceof Request.Open && reply instanceof Reply.Opened)
        || (request instanceof Request.Stat && reply instanceof Reply.Stated)
        || (request instanceof Request.List && reply instanceof Reply.Listed)
        || (request instanceof Request.Ping && reply instanceof Reply.Pong);
    if (!answers) {
      throw new MalformedReplyException(
          "a " + request.op() + " request was answered with " + reply.getClass().getSimpleName());
    }
  }

  /**
   * Takes ownership of the received descriptors. junixsocket closes every received descriptor still
   * open when its socket closes, so each is duplicated (the duplicate is ours alone) and the
   * original closed; a BrokeredFile then outlives this connection.
   */
  private static void adopt(Reply.Opened reply, FileDescriptor[] received, List<BrokeredFile> filesOut)
      throws IOException {
    int count = received == null ? 0 : received.length;
    if (count != reply.grantedCount()) {
      closeAll(received);
      throw new MalformedReplyException("reply grants " + reply.grantedCount()
          + " files but carried " + count + " descriptors");
    }
    List<BrokeredFile> adopted = new ArrayList<>(count);
    try {
      int index = 0;
      for (FileResult result : reply.files()) {
        if (result instanceof FileResult.Granted) {
          FileResult.Granted granted = (FileResult.Granted) result;
          if (granted.fd() != index) {
            throw new MalformedReplyException("granted file " + index + " names descriptor " + granted.fd());
          }
          FileDescriptor own = FileDescriptorCast.duplicating(received[index]).getFileDescriptor();
          adopted.add(new BrokeredFile(granted.path(), granted.size(), granted.mtimeNs(), granted.mode(), own));
          index++;
        }
      }
    } catch (IOException | RuntimeException e) {
      for (BrokeredFile f : adopted) {
        closeQuietly(f);
      }
      throw e;
    } finally {
      closeAll(received);
    }
    filesOut.addAll(adopted);
  }

  private static void closeAll(FileDescriptor[] fds) {
    if (fds == null) {
      return;
    }
    for (FileDescriptor fd : fds) {
      if (fd.valid()) {
        // Closing through a stream runs junixsocket's hook, which forgets the descriptor.
        try (FileInputStream ignored = new FileInputStream(fd)) {
          // nothing to read
        } catch (IOException e) {
          // already closed
        }
      }
    }
  }

  private static void closeQuietly(Closeable c) {
    try {
      c.close();
    } catch (IOException ignored) {
      // best effort on an error path
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
