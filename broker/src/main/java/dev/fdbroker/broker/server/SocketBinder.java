package dev.fdbroker.broker.server;

import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.List;
import java.util.Map;
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
  /** sun_path holds 108 bytes, the terminating NUL included. */
  private static final int MAX_PATH_BYTES = 107;

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

  /**
   * The socket cannot be made as asked: the path, its directory or the group must change (a
   * usage error), as opposed to an {@link IOException} that says it could work later, such as
   * another broker already serving the path.
   */
  public static final class BadSettingException extends IOException {
    private static final long serialVersionUID = 1L;

    BadSettingException(String message) {
      super(message);
    }
  }

  /**
   * Looks up the group a socket is to be given, so that a wrong name is refused before anything
   * is bound.
   *
   * @throws IllegalArgumentException no such group, or the user database cannot say
   */
  public static GroupPrincipal group(String name) {
    try {
      return FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByGroupName(name);
    } catch (UserPrincipalNotFoundException e) {
      throw new IllegalArgumentException("unknown group \"" + name + "\"");
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot look up group \"" + name + "\": " + e.getMessage());
    }
  }

  /** Binds and listens at {@code path} with the given mode and the broker's own group. */
  public static BoundSocket bind(Path path, Set<PosixFilePermission> mode) throws IOException {
    return bind(path, mode, null);
  }

  /**
   * Binds and listens at {@code path} with the given mode and group ({@code null}: the broker's).
   * If anything fails once the socket is bound, its file is removed: junixsocket made it mode 0666.
   *
   * @throws BadSettingException the path is too long, its directory is missing, unsafe or not
   *     writable, it holds something other than a stale socket, or the group cannot be given
   * @throws IOException another process is already listening there, or binding failed otherwise
   */
  public static BoundSocket bind(Path path, Set<PosixFilePermission> mode, GroupPrincipal group) throws IOException {
    Path target = path.toAbsolutePath();
    Path dir = target.getParent();
    if (dir == null) {
      throw new BadSettingException("socket path " + path + " names no file");
    }
    int length = target.toString().getBytes(StandardCharsets.UTF_8).length;
    if (length > MAX_PATH_BYTES) {
      throw new BadSettingException("socket path " + target + " is " + length
          + " bytes long; a unix socket's path can have at most " + MAX_PATH_BYTES);
    }
    checkDirectory(dir);
    clearStale(target);
    AFUNIXServerSocket server = AFUNIXServerSocket.newInstance();
    try {
      // junixsocket would otherwise unlink whatever sits at the path; stale sockets are our call.
      server.setReuseAddress(false);
      server.setDeleteOnClose(false);
      server.bind(AFUNIXSocketAddress.of(target), BACKLOG);
    } catch (IOException | RuntimeException e) {
      server.close();
      // Not bound, so whatever is at the path now is not ours to remove.
      throw new IOException("cannot listen on " + target + ": " + e.getMessage(), e);
    }
    try {
      if (group != null) {
        setGroup(target, group);
      }
      Files.setPosixFilePermissions(target, mode);
      return new BoundSocket(server, target, identity(target));
    } catch (IOException | RuntimeException e) {
      server.close();
      // Ours: bound a moment ago in a directory nobody else can swap entries in (checkDirectory).
      try {
        Files.deleteIfExists(target);
      } catch (IOException gone) {
        e.addSuppressed(gone);
      }
      throw e;
    }
  }

  private static void setGroup(Path socket, GroupPrincipal group) throws IOException {
    try {
      Files.getFileAttributeView(socket, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).setGroup(group);
    } catch (FileSystemException e) {
      throw new BadSettingException("cannot give socket " + socket + " to group " + group.getName() + ": " + e.getReason());
    }
  }

  /**
   * A stale socket is checked, then removed, and the new one chmod'ed, all by path; in a directory
   * where others may create or replace entries, they could swap in another file or a link between
   * those steps. A sticky directory (like /tmp) stops them replacing entries they do not own.
   */
  private static void checkDirectory(Path dir) throws IOException {
    int self = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    Map<String, Object> attributes;
    try {
      attributes = Files.readAttributes(dir, "unix:mode,uid,isDirectory");
    } catch (NoSuchFileException e) {
      throw new BadSettingException("socket directory " + dir + " does not exist");
    } catch (FileSystemException e) {
      throw new BadSettingException("socket directory " + dir + ": " + e.getReason() + " (the broker runs as uid " + self + ")");
    }
    if (!(Boolean) attributes.get("isDirectory")) {
      throw new BadSettingException("socket directory " + dir + " is not a directory");
    }
    int mode = (Integer) attributes.get("mode");
    int owner = (Integer) attributes.get("uid");
    boolean othersMayWrite = (mode & 0022) != 0;
    boolean sticky = (mode & 01000) != 0;
    if (othersMayWrite && !sticky) {
      throw new BadSettingException("socket directory " + dir + " is writable by group or others (mode "
          + Integer.toOctalString(mode & 07777) + "); use a directory only the broker's user can write, such as /run/fdbroker");
    }
    // The owner of a directory can always replace its entries, sticky or not.
    if (owner != 0 && owner != self) {
      throw new BadSettingException("socket directory " + dir + " belongs to uid " + owner
          + ", who could swap the socket for a link; use a directory owned by root or the broker's user");
    }
    if (!Files.isWritable(dir) || !Files.isExecutable(dir)) {
      throw new BadSettingException("socket directory " + dir + " is not writable by the broker (uid " + self + ")");
    }
  }

  /** Removes a stale socket at {@code p}; refuses a live one or any other kind of file. */
  private static void clearStale(Path p) throws IOException {
    int mode;
    try {
      mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      return;
    }
    if ((mode & S_IFMT) != S_IFSOCK) {
      throw new BadSettingException(p + " exists and is not a socket; refusing to replace it");
    }
    boolean live;
    try (AFUNIXSocket probe = AFUNIXSocket.newInstance()) {
      probe.connect(AFUNIXSocketAddress.of(p), 1000);
      live = true;
    } catch (ConnectionRefusedSocketException stale) {
      live = false; // nobody listens, so the file is left over from an earlier run
    } catch (IOException e) {
      throw new IOException("cannot tell whether another process is serving " + p + ": " + e.getMessage(), e);
    }
    if (live) {
      throw new IOException("another process is already serving " + p);
    }
    try {
      Files.deleteIfExists(p);
    } catch (FileSystemException e) {
      throw new BadSettingException("cannot remove the stale socket " + p + ": " + e.getReason());
    }
  }
}
