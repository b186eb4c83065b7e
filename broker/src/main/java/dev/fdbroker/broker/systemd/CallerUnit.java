package dev.fdbroker.broker.systemd;

import dev.fdbroker.broker.posix.Errno;
import dev.fdbroker.broker.posix.Posix;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The systemd unit a caller runs in, from the cgroup of the process that connected: the first
 * component of its cgroup v2 path (the {@code 0::} line of /proc/PID/cgroup) that ends in {@code
 * .service} or {@code .scope}, as systemd itself reads a unit from a path, so a delegated
 * sub-cgroup of {@code foo.service} is still {@code foo.service}, whatever its name.
 *
 * <p>Invariant: the unit is the one the system's manager made. Below a unit's cgroup, names are
 * the unit's to choose: a service with Delegate=yes can make {@code foo.service/bar.service}, and
 * every user's manager makes its units below {@code user@UID.service}. Were the last such
 * component taken, any of them could pass as any unit it liked.
 *
 * <p>Invariant: a unit is only ever taken from the connecting process itself. Its pid could name
 * another process once it exits, so the pid is read through a pidfd from SO_PEERPIDFD, and the
 * cgroup counts only if that pidfd still names a live process after the cgroup was read.
 */
public final class CallerUnit {
  /** /proc/PID/cgroup is a few lines; more than this is not a cgroup file. */
  private static final int MAX_BYTES = 64 * 1024;

  private CallerUnit() {}

  /**
   * What could be learned of a caller's unit.
   *
   * @param unit the unit, or null if the caller is in none (or, on a kernel before 6.5, which has
   *     no SO_PEERPIDFD, if it cannot be told)
   * @param unknown the caller may be in a unit, but which cannot be known: the process that
   *     connected is gone (it exited, maybe after handing the connection on), or its cgroup could
   *     not be read. A policy that names units must then refuse it everything: were it taken as a
   *     caller in no unit, a unit's process could shed the unit's denies by vanishing.
   */
  public record Found(String unit, boolean unknown) {
    static final Found NONE = new Found(null, false);
    static final Found UNKNOWN = new Found(null, true);
  }

  /**
   * The unit of the process that connected on {@code socketFd}, whose pid the kernel gave as
   * {@code pid}; null if it is in none, is gone, or cannot be told (a kernel before 6.5).
   */
  public static String of(int socketFd, long pid) {
    return lookup(socketFd, pid).unit();
  }

  /** The unit of the process that connected on {@code socketFd}, whose pid the kernel gave as {@code pid}. */
  public static Found lookup(int socketFd, long pid) {
    int pidfd = Posix.peerPidfd(socketFd);
    if (pidfd < 0) {
      // No SO_PEERPIDFD (before 6.5): no unit can ever be told, for anyone. Any other error (EINVAL
      // or ESRCH: reaped already; EMFILE...): this caller's cannot.
      return pidfd == -Errno.ENOPROTOOPT ? Found.NONE : Found.UNKNOWN;
    }
    try {
      String cgroup = read(Path.of("/proc", Long.toString(pid), "cgroup"));
      // Read, then checked: had the process been reaped before the read, the pid could have named
      // another; alive now, it was alive throughout, and the pid was its own.
      if (cgroup == null || !Posix.pidfdNamesLiveProcess(pidfd)) {
        return Found.UNKNOWN;
      }
      String unit = unitOf(cgroup);
      return unit == null ? Found.NONE : new Found(unit, false);
    } finally {
      Posix.close(pidfd);
    }
  }

  private static String read(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      byte[] bytes = in.readNBytes(MAX_BYTES);
      return new String(bytes, StandardCharsets.UTF_8);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** The unit named by the {@code 0::} line of a /proc/PID/cgroup text, or null. */
  public static String unitOf(String procCgroup) {
    for (String line : procCgroup.split("\n")) {
      if (line.startsWith("0::/")) {
        return unitOfPath(line.substring(3));
      }
    }
    return null;
  }

  /** The first component of a cgroup path that is a service or a scope, or null. */
  static String unitOfPath(String path) {
    // A process in a removed cgroup shows the path with this suffix; the unit it names is gone.
    if (path.endsWith(" (deleted)")) {
      return null;
    }
    for (String component : path.split("/")) {
      if ((component.endsWith(".service") && component.length() > ".service".length())
          || (component.endsWith(".scope") && component.length() > ".scope".length())) {
        return component;
      }
    }
    return null;
  }
}
