package dev.fdbroker.broker.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

class SocketBinderTest {
  @TempDir
  Path dir;

  @Test
  void bindsWithTheGivenModeAndRemovesOnlyItsOwnSocket() throws Exception {
    Path sock = dir.resolve("b.sock");
    SocketBinder.BoundSocket bound = SocketBinder.bind(sock, SocketBinder.parseMode("0640"));
    assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)));
    bound.close();
    assertTrue(Files.notExists(sock));

    SocketBinder.BoundSocket first = SocketBinder.bind(sock, SocketBinder.parseMode("0600"));
    first.server().close(); // now stale
    SocketBinder.BoundSocket second = SocketBinder.bind(sock, SocketBinder.parseMode("0600"));
    first.close(); // must not remove the second broker's socket
    assertTrue(Files.exists(sock));
    second.close();
  }

  @Test
  void refusesToReplaceAnythingButAStaleSocket() throws Exception {
    Path file = Files.writeString(dir.resolve("file"), "keep");
    assertThrows(SocketBinder.BadSettingException.class, () -> SocketBinder.bind(file, SocketBinder.parseMode("0600")));
    Path link = Files.createSymbolicLink(dir.resolve("link"), dir.resolve("elsewhere"));
    assertThrows(SocketBinder.BadSettingException.class, () -> SocketBinder.bind(link, SocketBinder.parseMode("0600")));
    Path live = dir.resolve("live.sock");
    try (AFUNIXServerSocket other = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(live), true)) {
      IOException e = assertThrows(IOException.class, () -> SocketBinder.bind(live, SocketBinder.parseMode("0600")));
      assertEquals("another process is already serving " + live, e.getMessage());
      assertFalse(e instanceof SocketBinder.BadSettingException, "a taken socket is no fault of the setting");
    }
    assertEquals("keep", Files.readString(file));
  }

  @Test
  void refusesADirectoryOthersCanWriteUnlessItIsSticky() throws Exception {
    Path open = Files.createDirectory(dir.resolve("open"));
    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
    IOException e = assertThrows(IOException.class, () -> SocketBinder.bind(open.resolve("s"), SocketBinder.parseMode("0600")));
    assertTrue(e.getMessage().contains("writable by group or others"), e.getMessage());
    SocketBinder.bind(Path.of("/tmp").resolve("fdbroker-binder-" + ProcessHandle.current().pid() + ".sock"),
        SocketBinder.parseMode("0600")).close();
  }

  @Test
  void refusesADirectoryOwnedBySomeoneElse() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0, "needs root to chown");
    Path theirs = Files.createDirectory(dir.resolve("theirs"));
    Files.setAttribute(theirs, "unix:uid", 65534);
    IOException e = assertThrows(IOException.class, () -> SocketBinder.bind(theirs.resolve("s"), SocketBinder.parseMode("0600")));
    assertTrue(e.getMessage().contains("belongs to uid 65534"), e.getMessage());
  }

  @Test
  void saysWhatIsWrongWithAPathThatCannotTakeASocket() {
    SocketBinder.BadSettingException missing = assertThrows(SocketBinder.BadSettingException.class,
        () -> SocketBinder.bind(dir.resolve("no/such/dir/s.sock"), SocketBinder.parseMode("0600")));
    assertEquals("socket directory " + dir.resolve("no/such/dir") + " does not exist", missing.getMessage());
    Path tooLong = dir.resolve("x".repeat(108));
    SocketBinder.BadSettingException longPath = assertThrows(SocketBinder.BadSettingException.class,
        () -> SocketBinder.bind(tooLong, SocketBinder.parseMode("0600")));
    assertTrue(longPath.getMessage().endsWith("a unix socket's path can have at most 107"), longPath.getMessage());
    assertEquals("unknown group \"no-such-group-x\"",
        assertThrows(IllegalArgumentException.class, () -> SocketBinder.group("no-such-group-x")).getMessage());
  }

  @Test
  void parsesOctalModes() {
    assertEquals("rw-rw----", PosixFilePermissions.toString(SocketBinder.parseMode("0660")));
    assertEquals("rwxrwxrwx", PosixFilePermissions.toString(SocketBinder.parseMode("777")));
    assertThrows(IllegalArgumentException.class, () -> SocketBinder.parseMode("0668"));
    assertThrows(IllegalArgumentException.class, () -> SocketBinder.parseMode("1777"));
    assertThrows(IllegalArgumentException.class, () -> SocketBinder.parseMode("rw"));
  }
}
