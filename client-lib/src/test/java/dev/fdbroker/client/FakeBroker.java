package dev.fdbroker.client;

import dev.fdbroker.protocol.BadRequestException;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.FileResult;
import dev.fdbroker.protocol.Frame;
import dev.fdbroker.protocol.FrameReader;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.ReplyCodec;
import dev.fdbroker.protocol.Request;
import dev.fdbroker.protocol.RequestCodec;
import dev.fdbroker.protocol.RequestId;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * A stand-in for the broker on a real unix socket, misbehaving to order: the n-th connection it
 * accepts is served by the n-th script, the last script serving every connection after that.
 */
public final class FakeBroker implements AutoCloseable {

  /** What the broker does with one connection. */
  @FunctionalInterface
  public interface Script {
    void serve(Conn conn) throws Exception;
  }

  /** One accepted connection. */
  public static final class Conn {
    private final AFUNIXSocket socket;
    private final FrameReader reader;

    Conn(AFUNIXSocket socket) throws IOException {
      this.socket = socket;
      this.reader = new FrameReader(socket.getInputStream());
    }

    /** The next request, or null once the client has hung up. */
    Request next() throws IOException {
      Frame frame = reader.next();
      try {
        return frame == null ? null : RequestCodec.decode(frame, 64);
      } catch (BadRequestException e) {
        throw new IOException("the client sent a bad request", e);
      }
    }

    /** Writes bytes in one send, with the file's descriptor attached if {@code file} is not null. */
    void send(byte[] bytes, Path file) throws IOException {
      sendWith(bytes, file == null ? List.of() : List.of(file));
    }

    /** Writes bytes in one send, with a descriptor of each file attached, in order. */
    void sendWith(byte[] bytes, List<Path> files) throws IOException {
      if (files.isEmpty()) {
        socket.getOutputStream().write(bytes);
        return;
      }
      List<FileInputStream> opened = new java.util.ArrayList<>();
      try {
        java.io.FileDescriptor[] fds = new java.io.FileDescriptor[files.size()];
        for (int i = 0; i < fds.length; i++) {
          FileInputStream in = new FileInputStream(files.get(i).toFile());
          opened.add(in);
          fds[i] = in.getFD();
        }
        socket.setOutboundFileDescriptors(fds);
        socket.getOutputStream().write(bytes);
      } finally {
        for (FileInputStream in : opened) {
          in.close();
        }
      }
    }
  }

  private final AFUNIXServerSocket server;
  private final List<Script> scripts;
  private final AtomicInteger accepted = new AtomicInteger();
  private final java.util.concurrent.Semaphore ended = new java.util.concurrent.Semaphore(0);
  private final Thread acceptor;

  public FakeBroker(Path socket, Script... scripts) throws IOException {
    this.server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(socket), true);
    this.scripts = List.of(scripts);
    this.acceptor = new Thread(this::acceptLoop, "fake-broker");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** Connections accepted so far. */
  public int connections() {
    return accepted.get();
  }

  /** Waits until the broker's end of another connection has been closed. */
  void awaitHangUp() throws InterruptedException {
    if (!ended.tryAcquire(10, java.util.concurrent.TimeUnit.SECONDS)) {
      throw new AssertionError("no connection ended within 10 s");
    }
  }

  private void acceptLoop() {
    try {
      while (true) {
        AFUNIXSocket s = server.accept();
        Script script = scripts.get(Math.min(accepted.getAndIncrement(), scripts.size() - 1));
        Thread t = new Thread(() -> {
          try (s) {
            script.serve(new Conn(s));
          } catch (Exception e) {
            // the client went away, or the test is over
          } finally {
            ended.release();
          }
        });
        t.setDaemon(true);
        t.start();
      }
    } catch (IOException closed) {
      // test over
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
  }

  // The scripts the tests use.

  /** Answers pings, as long as the client likes. */
  static void pongs(Conn c) throws IOException {
    Request r;
    while ((r = c.next()) != null) {
      c.send(ReplyCodec.encode(new Reply.Pong(r.id(), "0.0.0-fake", 1, 64)), null);
    }
  }

  /** Answers one ping, then hangs up, as a broker closing an idle connection does. */
  static void pongsOnce(Conn c) throws IOException {
    Request r = c.next();
    c.send(ReplyCodec.encode(new Reply.Pong(r.id(), "0.0.0-fake", 1, 64)), null);
  }

  /** Reads a request and answers it with a whole-request refusal, as the broker at its limit does. */
  static Script refuses(ErrorCode code) {
    return c -> {
      c.next();
      c.send(ReplyCodec.encode(new Reply.Failed(RequestId.NONE, code, "refused by the fake broker")), null);
    };
  }

  /** Reads a request and hangs up without a reply, as a broker that is stopping may. */
  static void hangsUp(Conn c) throws IOException {
    c.next();
  }

  /** Reads a request and never answers. */
  static void staysSilent(Conn c) throws Exception {
    c.next();
    Thread.sleep(Long.MAX_VALUE);
  }

  /** Grants each requested path, sending {@code file}'s descriptor for it. */
  static Script grants(Path file) {
    return c -> {
      Request r;
      while ((r = c.next()) != null) {
        Request.Open open = (Request.Open) r;
        FileResult granted = new FileResult.Granted(open.paths().get(0), 0, Files.size(file));
        c.send(ReplyCodec.encode(new Reply.Opened(r.id(), List.of(granted))), file);
      }
    };
  }

  /** Sends the first bytes of a granting reply, with {@code file}'s descriptor, and hangs up. */
  static Script cutsShort(Path file) {
    return c -> {
      Request r = c.next();
      FileResult granted = new FileResult.Granted("/x", 0, 1);
      byte[] reply = ReplyCodec.encode(new Reply.Opened(r.id(), List.of(granted)));
      c.send(java.util.Arrays.copyOf(reply, 10), file);
    };
  }

  /** Sends a whole frame that is not JSON, with {@code file}'s descriptor (null for none). */
  static Script garbles(Path file) {
    return c -> {
      c.next();
      byte[] body = "{\"id\": 1, \"ok\": tru".getBytes(StandardCharsets.UTF_8);
      byte[] frame = java.nio.ByteBuffer.allocate(4 + body.length).putInt(body.length).put(body).array();
      c.send(frame, file);
    };
  }

  /** Sends a frame header announcing an empty frame, which no reply can be. */
  static void sendsAnEmptyFrame(Conn c) throws IOException {
    c.next();
    c.send(new byte[4], null);
  }
}
