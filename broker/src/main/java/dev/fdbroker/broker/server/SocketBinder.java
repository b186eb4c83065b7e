package dev.fdbroker.broker.server;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.ConnectionRefusedSocketException;

/**
 * Binds the broker's listening socket at a path, carefully: only a stale socket is ever replaced,
 * never a live one or a file of another kind, and only in a directory where nobody else can swap
 * entries.
 *
 * <p>junixsocket chmods every socket it binds to 0666; the configured mode is applied right after,
 * so for a few microseconds after listen() anyone who can reach the directory could connect. Every
 * such caller is still judged by the policy. Under socket activation (the packaged setup) systemd
 * creates the socket with its final mode and this window does not exist.
 */
public final class SocketBinder {
  private static final int S_IFMT = 0170000;
  private static final int S_IFSOCK = 0140000;
  private static final int BACKLOG = 1024;

  private SocketBinder() {}

  /** A bound, listening socket; closing it removes its path if the path is still this socket. */
  public static final class BoundSocket implements Closeable {
    private final AFUNIXServerSocket server;
    private final Path path;
    private final List<Object> identity;

    private BoundSocket(AFUNIXServerSocket server, Path path, List<Object> identity) {
      this.server = server;
      this.path = path;
      this.identity = identity;
    }

    public AFUNIXServerSocket server() {
      return server;
    }

    public Path path() {
      return path;
    }

    @Override
    public void close() throws IOException {
      server.close();
      try {
        if (Objects.equals(identity(path), identity)) {
          Files.deleteIfExists(path);
        }
      } catch (IOException e) {
        // gone already, or replaced by someone else's socket: leave it
      }
    }
  }

  /**
   * What tells this socket file from a later one at the same path: device and inode (which a file
   * system may reuse once the file is gone), plus its birth and modification times.
   */
  private static List<Object> identity(Path p) throws IOException {
    BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    return List.of(String.valueOf(a.fileKey()), a.creationTime(), a.lastModifiedTime());
  }

  /** Parses an octal mode such as "0660". */
  public static Set<PosixFilePermission> parseMode(String octal) {
    int mode;
    try {
      mode = Integer.parseInt(octal, 8);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("socket mode must be octal, such as 0660, not " + octal);
    }
    if (mode < 0 || mode > 0777) {
      throw new IllegalArgumentException("socket mode must be between 0000 and 0777, not " + octal);
    }
    StringBuilder rwx = new StringBuilder();
    for (int shift = 6; shift >= 0; shift -= 3) {
      int bits = (mode >> shift) & 7;
      rwx.append((bits & 4) != 0 ? 'r' : '-').append((bits & 2) != 0 ? 'w' : '-').append((bits & 1) != 0 ? 'x' : '-');
    }
    return PosixFilePermissions.fromString(rwx.toString());
  }

  /** Binds and listens at {@code path} with the given mode and the broker's own group. */
  public static BoundSocket bind(Path path, Set<PosixFilePermission> mode) throws IOException {
    return bind(path, mode, null);
  }

  /**
   * Binds and listens at {@code path} with the given mode and group ({@code null}: the broker's).
   *
   * @throws IOException the directory is unsafe, the path holds something other than a stale
   *     socket, another process is already listening there, or the group cannot be set
   */
  public static BoundSocket bind(Path path, Set<PosixFilePermission> mode, String group) throws IOException {
    Path target = path.toAbsolutePath();
    Path dir = target.getParent();
    checkDirectory(dir);
    clearStale(target);
    AFUNIXServerSocket server = AFUNIXServerSocket.newInstance();
    try {
      // junixsocket would otherwise unlink whatever sits at the path; stale sockets are our call.
      server.setReuseAddress(false);
      server.setDeleteOnClose(false);
      server.bind(AFUNIXSocketAddress.of(target), BACKLOG);
      if (group != null) {
        GroupPrincipal principal = target.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByGroupName(group);
        Files.getFileAttributeView(target, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).setGroup(principal);
      }
      Files.setPosixFilePermissions(target, mode);
      return new BoundSocket(server, target, identity(target));
    } catch (IOException | RuntimeException e) {
      server.close();
      throw e;
    }
  }

  /**
   * A stale socket is checked, then removed, and the new one chmod'ed, all by path; in a directory
   * where others may create or replace entries, they could swap in another file or a link between
   * those steps. A sticky directory (like /tmp) stops them replacing entries they do not own.
   */
  private static void checkDirectory(Path dir) throws IOException {
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(dir)) {
      throw new IOException("socket directory " + dir + " does not exist");
    }
    int mode = (Integer) Files.getAttribute(dir, "unix:mode");
    int owner = (Integer) Files.getAttribute(dir, "unix:uid");
    boolean othersMayWrite = (mode & 0022) != 0;
    boolean sticky = (mode & 01000) != 0;
    if (othersMayWrite && !sticky) {
      throw new IOException("socket directory " + dir + " is writable by group or others (mode "
          + Integer.toOctalString(mode & 07777) + "); use a directory only the broker's user can write, such as /run/fdbroker");
    }
    // The owner of a directory can always replace its entries, sticky or not.
    int self = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    if (owner != 0 && owner != self) {
      throw new IOException("socket directory " + dir + " belongs to uid " + owner
          + ", who could swap the socket for a link; use a directory owned by root or the broker's user");
    }
  }

  /** Removes a stale socket at {@code p}; refuses a live one or any other kind of file. */
  private static void clearStale(Path p) throws IOException {
    int mode;
    try {
      mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    } catch (java.nio.file.NoSuchFileException e) {
      return;
    }
    if ((mode & S_IFMT) != S_IFSOCK) {
      throw new FileAlreadyExistsException(p.toString(), null,
          "exists and is not a socket; refusing to replace it");
    }
    try (AFUNIXSocket probe = AFUNIXSocket.newInstance()) {
      probe.connect(AFUNIXSocketAddress.of(p), 1000);
      throw new IOException("another process is already serving " + p);
    } catch (ConnectionRefusedSocketException stale) {
      // Nobody listens, so the file is left over from an earlier run.
      Files.deleteIfExists(p);
    }
  }
}
