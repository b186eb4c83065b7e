package dev.fdbroker.broker.systemd;

import dev.fdbroker.broker.posix.Errno;
import dev.fdbroker.broker.posix.Posix;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The systemd unit a caller runs in, from the cgroup v2 of the process that connected: the first
 * component of its cgroup path below the slices, if it is a {@code .service} or a {@code .scope},
 * as systemd itself names a process's unit. A sub-cgroup is still its unit's, whatever it is
 * called: a unit with {@code Delegate=yes} may make sub-cgroups of any name, {@code
 * render-worker@tenant2.service} too, so only the component systemd made can say which unit it is.
 *
 * <p>Invariant: a unit is only ever taken from the connecting process itself, held by the pidfd
 * SO_PEERPIDFD gives, which can never come to name another process. Its cgroup is asked of the
 * pidfd (PIDFD_GET_INFO, Linux 6.13+), so no pid and no /proc is involved, and turned into a path
 * on the cgroup v2 mount (open_by_handle_at, with CAP_DAC_READ_SEARCH). On older kernels the cgroup
 * is read from /proc/PID/cgroup, and counts only if the pidfd still names a live process after the
 * read. Whatever cannot be told is {@link Found.Unknown}, never a guess.
 */
public final class CallerUnit {
  /** /proc/PID/cgroup is a few lines; more than this is not a cgroup file. */
  private static final int MAX_BYTES = 64 * 1024;

  private static final Pattern KERNEL_VERSION = Pattern.compile("^(\\d+)\\.(\\d+)");

  private CallerUnit() {}

  /** What the broker could tell of a caller's unit. */
  public sealed interface Found permits Found.Unit, Found.NoUnit, Found.Unknown {
    /** In this unit. */
    record Unit(String name) implements Found {}

    /** In a cgroup that is no unit (the root, or one systemd did not make). */
    record NoUnit() implements Found {}

    /** Cannot be told: the process that connected is gone, or its cgroup cannot be read here. */
    record Unknown(String why) implements Found {}
  }

  /**
   * The unit of the process that connected on {@code socketFd}, whose pid the kernel gave as
   * {@code pid}.
   */
  public static Found of(int socketFd, long pid) {
    int pidfd = Posix.peerPidfd(socketFd);
    if (pidfd < 0) {
      return new Found.Unknown(-pidfd == Errno.ENOPROTOOPT ? "this kernel has no SO_PEERPIDFD (Linux 6.5+)"
          : "the process that connected is gone (" + Errno.name(-pidfd) + ")");
    }
    try {
      return ofPidfd(pidfd, pid);
    } finally {
      Posix.close(pidfd);
    }
  }

  private static Found ofPidfd(int pidfd, long pid) {
    long id = Posix.pidfdCgroupId(pidfd);
    if (id > 0) {
      String path = cgroupPath(id);
      return path == null ? new Found.Unknown("cgroup " + id + " cannot be opened on the cgroup v2 mount")
          : classify(path);
    }
    if (-id == Errno.ESRCH) {
      return new Found.Unknown("the process that connected is gone");
    }
    // A kernel before 6.13: read the pid's cgroup from /proc, then make sure the pid was its own.
    String cgroup = read(Path.of("/proc", Long.toString(pid), "cgroup"));
    if (cgroup == null) {
      return new Found.Unknown("/proc/" + pid + "/cgroup cannot be read (hidden by ProtectProc=?)");
    }
    // Alive now, it was alive throughout the read, and the pid was its own.
    if (!Posix.pidfdNamesLiveProcess(pidfd)) {
      return new Found.Unknown("the process that connected is gone");
    }
    String path = v2Path(cgroup);
    return path == null ? new Found.Unknown("no cgroup v2 line in /proc/" + pid + "/cgroup") : classify(path);
  }

  /**
   * A cgroup path as a unit. A path that is not plainly below the root ({@code /../x}: a reader in
   * another cgroup namespace; {@code (deleted)}: a cgroup removed meanwhile) cannot be told, and
   * is never taken for "no unit", which would free the caller from every unit's deny.
   */
  static Found classify(String cgroupPath) {
    if (!cgroupPath.startsWith("/") || cgroupPath.endsWith(" (deleted)")) {
      return new Found.Unknown("cgroup path " + cgroupPath + " cannot be read as a unit");
    }
    for (String component : cgroupPath.split("/")) {
      if (component.equals(".") || component.equals("..")) {
        return new Found.Unknown("cgroup path " + cgroupPath + " is not below this broker's cgroup root");
      }
    }
    String unit = unitOfPath(cgroupPath);
    return unit == null ? new Found.NoUnit() : new Found.Unit(unit);
  }

  /** The cgroup path of cgroup {@code id}, from the root of the hierarchy; or null. */
  private static String cgroupPath(long id) {
    CgroupMount.Opened mount = CgroupMount.get();
    if (mount == null) {
      return null;
    }
    int fd = Posix.openCgroupById(mount.fd(), id);
    if (fd < 0) {
      return null;
    }
    try {
      String where = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
      String point = mount.point().equals("/") ? "" : mount.point();
      if (!where.equals(mount.point()) && !where.startsWith(point + "/")) {
        return null;
      }
      String below = where.substring(point.length());
      return below.isEmpty() ? "/" : below;
    } catch (IOException | RuntimeException e) {
      return null;
    } finally {
      Posix.close(fd);
    }
  }

  private static String read(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      return new String(in.readNBytes(MAX_BYTES), StandardCharsets.UTF_8);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /**
   * Why this broker cannot tell callers' units, or null if it can: said at start and at reload
   * when the policy names units, since every such caller would then be {@link Found.Unknown}.
   */
  public static String problem() {
    if (kernelBefore(6, 5)) {
      return "this kernel (" + System.getProperty("os.version") + ") has no SO_PEERPIDFD (Linux 6.5+), so no caller's "
          + "unit can be known";
    }
    int self = Posix.pidfdOpen(ProcessHandle.current().pid());
    if (self < 0) {
      return "pidfds do not work here (" + Errno.name(-self) + "), so no caller's unit can be known";
    }
    try {
      long id = Posix.pidfdCgroupId(self);
      if (id > 0) {
        String mount = CgroupMount.problem();
        if (mount != null) {
          return mount;
        }
        int fd = Posix.openCgroupById(CgroupMount.get().fd(), id);
        if (fd < 0) {
          return "a cgroup cannot be opened by its id (open_by_handle_at: " + Errno.name(-fd) + "; it needs "
              + "CAP_DAC_READ_SEARCH, and a system-call filter that allows it), so no caller's unit can be known";
        }
        Posix.close(fd);
        return null;
      }
      // Before Linux 6.13: callers' /proc/PID/cgroup must be readable.
      if (procHidesOthers()) {
        return "this kernel has no PIDFD_GET_INFO (Linux 6.13+), and /proc hides other users' processes "
            + "(hidepid, ProtectProc=), so no other user's unit can be known: on this kernel give the service "
            + "ProtectProc=default (systemctl edit fdbroker)";
      }
      return null;
    } finally {
      Posix.close(self);
    }
  }

  /** Whether the running kernel is older than {@code major.minor} (false if its version is unclear). */
  static boolean kernelBefore(int major, int minor) {
    Matcher m = KERNEL_VERSION.matcher(System.getProperty("os.version", ""));
    if (!m.find()) {
      return false;
    }
    int ma = Integer.parseInt(m.group(1));
    int mi = Integer.parseInt(m.group(2));
    return ma < major || (ma == major && mi < minor);
  }

  /** Whether the /proc this process sees (the last mounted on /proc counts) hides other users' processes. */
  private static boolean procHidesOthers() {
    boolean hides = false;
    for (String[] f : CgroupMount.MountInfo.lines()) {
      int dash = Arrays.asList(f).indexOf("-");
      if (dash > 4 && f[4].equals("/proc") && dash + 1 < f.length && f[dash + 1].equals("proc")) {
        String superOptions = f[f.length - 1];
        hides = superOptions.contains("hidepid=") && !superOptions.contains("hidepid=0")
            && !superOptions.contains("hidepid=off");
      }
    }
    return hides;
  }

  /** The cgroup v2 path in a /proc/PID/cgroup text (its {@code 0::} line), or null. */
  static String v2Path(String procCgroup) {
    for (String line : procCgroup.split("\n")) {
      if (line.startsWith("0::/")) {
        return line.substring(3);
      }
    }
    return null;
  }

  /** The unit named by a /proc/PID/cgroup text, or null. */
  public static String unitOf(String procCgroup) {
    String path = v2Path(procCgroup);
    return path == null ? null : unitOfPath(path);
  }

  /**
   * The unit of a cgroup path: its first component that is no slice, if that is a service or a
   * scope; else null (a cgroup systemd did not make, or the root).
   */
  static String unitOfPath(String path) {
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
