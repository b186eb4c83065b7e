package dev.fdbroker.broker.posix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;
import org.newsclub.net.unix.FileDescriptorCast;

/** The broker's own sendmsg(2): bytes and SCM_RIGHTS descriptors, received by junixsocket as a client would. */
class SendmsgTest {
  @TempDir Path dir;

  @Test
  void bytesAndDescriptorsArriveTogether() throws Exception {
    try (AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open()) {
      int[] fds = new int[5];
      for (int i = 0; i < fds.length; i++) {
        Path f = Files.writeString(dir.resolve("f" + i), "file " + i);
        fds[i] = Posix.openat(Posix.AT_FDCWD, f.toString(), Posix.O_RDONLY | Posix.O_CLOEXEC);
      }
      byte[] frame = "..{\"ok\":true}..".getBytes(StandardCharsets.UTF_8);
      int sock = FileDescriptorCast.using(pair.getSocket1().getFileDescriptor()).as(Integer.class);
      // Three of the five descriptors, and the frame less its first and last two bytes.
      assertEquals(frame.length - 4, Posix.sendmsg(sock, frame, 2, frame.length - 4, fds, 3));

      AFUNIXSocketChannel in = pair.getSocket2();
      in.setAncillaryReceiveBufferSize(1024);
      ByteBuffer got = ByteBuffer.allocate(64);
      in.read(got);
      assertEquals("{\"ok\":true}", new String(got.array(), 0, got.position(), StandardCharsets.UTF_8));
      FileDescriptor[] received = in.getReceivedFileDescriptors();
      assertEquals(3, received.length);
      for (int i = 0; i < received.length; i++) {
        try (FileInputStream s = new FileInputStream(received[i])) {
          assertArrayEquals(("file " + i).getBytes(StandardCharsets.UTF_8), s.readAllBytes());
        }
      }
      for (int fd : fds) {
        Posix.close(fd);
      }
    }
  }

  @Test
  void withoutDescriptorsAndToAClosedPeer() throws Exception {
    AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
    int sock = FileDescriptorCast.using(pair.getSocket1().getFileDescriptor()).as(Integer.class);
    byte[] frame = new byte[100_000];
    frame[99_999] = 7;
    pair.getSocket2().configureBlocking(true);
    Thread reader = Thread.ofPlatform().start(() -> {
      try {
        ByteBuffer all = ByteBuffer.allocate(frame.length);
        while (all.hasRemaining()) {
          pair.getSocket2().read(all);
        }
        assertEquals(7, all.get(99_999));
        assertEquals(0, pair.getSocket2().getReceivedFileDescriptors() == null ? 0
            : pair.getSocket2().getReceivedFileDescriptors().length);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    long sent = 0;
    while (sent < frame.length) {
      long n = Posix.sendmsg(sock, frame, (int) sent, frame.length - (int) sent, new int[0], 0);
      assertEquals(true, n > 0, "sendmsg: " + n);
      sent += n;
    }
    reader.join();
    pair.getSocket2().close();
    // A peer gone is EPIPE, with no SIGPIPE (MSG_NOSIGNAL): this JVM would not survive one otherwise.
    assertEquals(-Errno.EPIPE, Posix.sendmsg(sock, frame, 0, 10, new int[0], 0));
    assertThrows(IllegalArgumentException.class, () -> Posix.sendmsg(sock, frame, 0, 1, new int[1], 2));
    pair.getSocket1().close();
  }
}
