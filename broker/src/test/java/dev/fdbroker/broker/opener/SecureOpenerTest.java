package dev.fdbroker.broker.opener;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fdbroker.broker.posix.Errno;
import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.protocol.ErrorCode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** Both opening strategies against real files, links, FIFOs, devices and /proc. */
class SecureOpenerTest {
  @TempDir
  Path tmp;
  Path dir;

  static Stream<SecureOpener> openers() {
    return Stream.of(new Openat2Opener(), new WalkingOpener());
  }

  @BeforeEach
  void tree() throws Exception {
    dir = tmp.toRealPath();
    Files.writeString(dir.resolve("file.txt"), "hello");
    Files.createDirectories(dir.resolve("sub"));
    Files.writeString(dir.resolve("sub/inner.txt"), "inner");
    Files.createSymbolicLink(dir.resolve("link.txt"), dir.resolve("file.txt"));
    Files.createSymbolicLink(dir.resolve("linkdir"), dir.resolve("sub"));
    Files.createSymbolicLink(dir.resolve("relative-link"), Path.of("file.txt"));
    new ProcessBuilder("mkfifo", dir.resolve("fifo").toString()).start().waitFor();
  }

  static OpenOutcome.Refused refused(SecureOpener opener, String path) {
    return assertInstanceOf(OpenOutcome.Refused.class, opener.open(path), path);
  }

  /** The open flags of one of our descriptors, as the kernel reports them in /proc/self/fdinfo. */
  static int flags(int fd) throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd))) {
      if (line.startsWith("flags:")) {
        return Integer.parseInt(line.substring(6).trim(), 8);
      }
    }
    throw new AssertionError("no flags in fdinfo");
  }

  /**
   * A file granted only to its owner is judged on the pin: another's file is refused before it is
   * ever opened for reading (inotify would see that open), and the owner's is opened.
   */
  @ParameterizedTest
  @MethodSource("openers")
  void aFileForItsOwnerOnlyIsRefusedToOthersBeforeItIsOpened(SecureOpener opener) throws Exception {
    Path file = dir.resolve("file.txt");
    long owner = ((Number) Files.getAttribute(file, "unix:uid")).longValue();
    OpenOutcome.Refused r = assertInstanceOf(OpenOutcome.Refused.class, opener.open(file.toString(), owner + 1));
    assertEquals(ErrorCode.DENIED, r.code());
    assertEquals(SecureOpener.OWNER_MESSAGE, r.message());
    OpenOutcome.Opened opened = assertInstanceOf(OpenOutcome.Opened.class, opener.open(file.toString(), owner));
    assertEquals(owner, opened.stat().owner());
    Posix.closePair(opened.pin(), opened.fd());
  }

  @ParameterizedTest
  @MethodSource("openers")
  void opensARegularFileReadOnly(SecureOpener opener) throws Exception {
    Path file = dir.resolve("sub/inner.txt");
    OpenOutcome.Opened opened = assertInstanceOf(OpenOutcome.Opened.class, opener.open(file.toString()));
    try {
      assertEquals(5, opened.stat().size());
      assertEquals(((Number) Files.getAttribute(file, "unix:ino")).longValue(), opened.stat().inode());
      int flags = flags(opened.fd());
      assertEquals(0, flags & 3, "O_RDONLY");
      assertTrue((flags & Posix.O_CLOEXEC) != 0, "O_CLOEXEC");
      assertTrue((flags & Posix.O_NONBLOCK) != 0, "O_NONBLOCK");
      assertEquals(0, flags & Posix.O_PATH, "the reopened descriptor, not the O_PATH pin");
      // The stat is the pin's: the same inode as the descriptor handed out.
      assertEquals(Posix.fstat(opened.fd()), opened.stat());
    } finally {
      Posix.closePair(opened.pin(), opened.fd());
    }
  }

  @ParameterizedTest
  @MethodSource("openers")
  void neverFollowsASymlinkAnywhereInThePath(SecureOpener opener) {
    assertEquals(ErrorCode.SYMLINK, refused(opener, dir + "/link.txt").code());
    assertEquals(ErrorCode.SYMLINK, refused(opener, dir + "/relative-link").code());
    assertEquals(ErrorCode.SYMLINK, refused(opener, dir + "/linkdir/inner.txt").code());
    assertEquals(ErrorCode.SYMLINK, refused(opener, "/proc/self/status").code());
    assertEquals(ErrorCode.SYMLINK, refused(opener, "/proc/" + ProcessHandle.current().pid() + "/fd/0").code());
    assertEquals(ErrorCode.SYMLINK, refused(opener, "/proc/" + ProcessHandle.current().pid() + "/root/etc/passwd").code());
    assertEquals(ErrorCode.SYMLINK, refused(opener, "/dev/fd/0").code());
  }

  @ParameterizedTest
  @MethodSource("openers")
  void opensOnlyRegularFiles(SecureOpener opener) throws Exception {
    assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
      OpenOutcome.Refused fifo = refused(opener, dir + "/fifo");
      assertEquals(ErrorCode.NOT_REGULAR, fifo.code());
      assertEquals("not a regular file: it is a FIFO", fifo.message());
    }, "opening a FIFO nobody writes to must not block");
    assertEquals("not a regular file: it is a directory", refused(opener, dir + "/sub").message());
    assertEquals("not a regular file: it is a directory", refused(opener, "/").message());
    assertEquals("not a regular file: it is a character device", refused(opener, "/dev/null").message());
    try (AFUNIXServerSocket s = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(dir.resolve("sock")), true)) {
      assertEquals(ErrorCode.NOT_REGULAR, refused(opener, dir + "/sock").code());
    }
  }

  @Test
  void aFailedReopenIsDeniedBusyOrTheBrokersOwnTrouble() {
    // The pin checks no read permission, so the reopen is where EACCES comes from.
    assertEquals(ErrorCode.DENIED, SecureOpener.reopenRefusal(Errno.EACCES).code());
    assertEquals(ErrorCode.DENIED, SecureOpener.reopenRefusal(Errno.EPERM).code());
    assertEquals(ErrorCode.BUSY, SecureOpener.reopenRefusal(Errno.EMFILE).code());
    assertEquals(ErrorCode.BUSY, SecureOpener.reopenRefusal(Errno.ENFILE).code());
    // The name was resolved already: ENOENT here means /proc is gone, not the file.
    assertEquals(ErrorCode.IO_ERROR, SecureOpener.reopenRefusal(Errno.ENOENT).code());
  }

  @ParameterizedTest
  @MethodSource("openers")
  void missingFilesAndMalformedPaths(SecureOpener opener) {
    assertEquals(ErrorCode.NOT_FOUND, refused(opener, dir + "/nope").code());
    assertEquals(ErrorCode.NOT_FOUND, refused(opener, dir + "/nope/deeper").code());
    assertEquals(ErrorCode.NOT_FOUND, refused(opener, dir + "/file.txt/below").code());
    assertEquals(ErrorCode.BAD_REQUEST, refused(opener, dir + "/sub/../file.txt").code());
    assertEquals(ErrorCode.BAD_REQUEST, refused(opener, "file.txt").code());
    assertEquals(ErrorCode.BAD_REQUEST, refused(opener, dir + "/" + "n".repeat(300)).code());
    // PATH_MAX counts the NUL: 4096 bytes are one too many for the kernel, whichever strategy asks.
    String longest = dir + "/" + "m/".repeat(2100);
    longest = longest.substring(0, 4096 - 1).replaceAll("/$", "m") + "x";
    assertEquals(4096, longest.length());
    assertEquals(ErrorCode.BAD_REQUEST, refused(opener, longest).code());
  }

  @ParameterizedTest
  @MethodSource("openers")
  void leaksNoDescriptors(SecureOpener opener) throws Exception {
    List<String> paths = List.of(dir + "/file.txt", dir + "/link.txt", dir + "/linkdir/inner.txt", dir + "/fifo",
        dir + "/sub", dir + "/nope/x", "/dev/null", dir + "/sub/inner.txt");
    long before = openDescriptors();
    for (int i = 0; i < 500; i++) {
      for (String p : paths) {
        if (opener.open(p) instanceof OpenOutcome.Opened o) {
          Posix.closePair(o.pin(), o.fd());
        }
      }
    }
    // 4000 opens: a leak would show as hundreds; allow for descriptors the test JVM opens meanwhile.
    long after = openDescriptors();
    assertTrue(after <= before + 5, "descriptors before " + before + ", after " + after);
  }

  static long openDescriptors() throws Exception {
    try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
      return s.count();
    }
  }
}
