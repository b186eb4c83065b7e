package dev.fdbroker.broker.it;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.newsclub.net.unix.AFUNIXDatagramChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** A real NOTIFY_SOCKET: a datagram socket that collects what the broker tells "systemd". */
final class NotifyListener implements AutoCloseable {
  private final AFUNIXDatagramChannel socket;
  private final LinkedBlockingQueue<String> messages = new LinkedBlockingQueue<>();
  private final List<String> seen = new ArrayList<>();
  final Path path;

  NotifyListener(Path path) throws IOException {
    this.path = path;
    socket = AFUNIXDatagramChannel.open();
    socket.bind(AFUNIXSocketAddress.of(path));
    // A broker running as another user (HostBroker) must be able to send to it.
    java.nio.file.Files.setPosixFilePermissions(path, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
    Thread.ofVirtual().start(() -> {
      ByteBuffer buf = ByteBuffer.allocate(4096);
      try {
        while (true) {
          buf.clear();
          socket.receive(buf);
          buf.flip();
          messages.add(StandardCharsets.UTF_8.decode(buf).toString());
        }
      } catch (IOException closed) {
        // done
      }
    });
  }

  /** The next message matching {@code wanted} within {@code timeout}; messages before it are skipped. */
  String await(Predicate<String> wanted, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      String m = left > 0 ? messages.poll(left, TimeUnit.NANOSECONDS) : null;
      if (m == null) {
        throw new AssertionError("no matching sd_notify message within " + timeout + "; seen: " + seen);
      }
      seen.add(m);
      if (wanted.test(m)) {
        return m;
      }
    }
  }

  static Predicate<String> hasLine(String line) {
    return m -> m.lines().anyMatch(line::equals);
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
