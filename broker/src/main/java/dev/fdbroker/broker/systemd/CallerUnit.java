package dev.fdbroker.broker.systemd;

import dev.fdbroker.broker.posix.Posix;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The systemd unit a caller runs in, from the cgroup of the process that connected: the first
 * component of its cgroup v2 path (the {@code 0::} line of /proc/PID/cgroup) below the slices, if
 * it is a {@code .service} or a {@code .scope}, as systemd itself names a process's unit. A
 * sub-cgroup is still its unit's, whatever it is called: a unit with {@code Delegate=yes} may make
 * sub-cgroups of any name, {@code render-worker@tenant2.service} too, so only the component
 * systemd made can say which unit it is.
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
   * The unit of the process that connected on {@code socketFd}, whose pid the kernel gave as
   * {@code pid}; null if it is in none, is gone, or cannot be told (a kernel before 6.5).
   */
  public static String of(int socketFd, long pid) {
    int pidfd = Posix.peerPidfd(socketFd);
    if (pidfd < 0) {
      return null; // reaped already, or no SO_PEERPIDFD: no unit rather than a guess
    }
    try {
      String cgroup = read(Path.of("/proc", Long.toString(pid), "cgroup"));
      // Read, then checked: had the process been reaped before the read, the pid could have named
      // another; alive now, it was alive throughout, and the pid was its own.
      if (cgroup == null || !Posix.pidfdNamesLiveProcess(pidfd)) {
        return null;
      }
      return unitOf(cgroup);
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

  /**
   * The unit of a cgroup path: its first component that is no slice, if that is a service or a
   * scope; else null (a cgroup systemd did not make, or the root).
   */
  static String unitOfPath(String path) {
    // A process in a removed cgroup shows the path with this suffix; the unit it names is gone.
    if (path.endsWith(" (deleted)")) {
      return null;
    }
    for (String component : path.split("/")) {
      if (component.isEmpty() || (component.endsWith(".slice") && component.length() > ".slice".length())) {
        continue;
      }
      boolean unit = (component.endsWith(".service") && component.length() > ".service".length())
          || (component.endsWith(".scope") && component.length() > ".scope".length());
      return unit ? component : null;
    }
    return null;
  }
}
