package dev.fdbroker.broker.systemd;

import dev.fdbroker.broker.posix.Posix;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The cgroup v2 mount as this process sees it, opened once, through which a cgroup id becomes a
 * path. Looked for again (at most every 10 s) while it has not been found, so that a passing
 * failure (a descriptor limit, an odd line in mountinfo) does not last until the next restart.
 */
final class CgroupMount {
  private static final long RETRY_NANOS = TimeUnit.SECONDS.toNanos(10);

  /**
   * @param fd a read-only descriptor of the mount's root directory (open_by_handle_at takes no
   *     O_PATH descriptor)
   * @param point where it is mounted
   * @param root the cgroup path of the mount's root ("/" unless it is a subtree's bind mount)
   */
  record Opened(int fd, String point, String root) {}

  private static volatile Opened found;
  private static volatile long nextLook;

  private CgroupMount() {}

  /** The mount, or null if there is none that can be used (said by {@link #problem}). */
  static Opened get() {
    Opened f = found;
    if (f != null) {
      return f;
    }
    synchronized (CgroupMount.class) {
      long now = System.nanoTime();
      if (found == null && now - nextLook >= 0) {
        nextLook = now + RETRY_NANOS;
        found = look();
      }
      return found;
    }
  }

  /** Why no mount can be used, or null. */
  static String problem() {
    Line line = line();
    if (line == null) {
      return "no cgroup v2 mount was found in /proc/self/mountinfo";
    }
    if (!line.root().equals("/")) {
      // Outside the root of its hierarchy (a cgroup namespace, a subtree's bind mount), callers'
      // cgroups cannot all be named from here: they would show as /../...
      return "the cgroup v2 mount at " + line.point() + " shows only the subtree " + line.root()
          + " (a cgroup namespace, or a bind mount), so callers' units cannot be named";
    }
    return get() == null ? "the cgroup v2 mount at " + line.point() + " cannot be opened" : null;
  }

  private static Opened look() {
    Line line = line();
    if (line == null || !line.root().equals("/")) {
      return null;
    }
    int fd = Posix.openat(Posix.AT_FDCWD, line.point(), Posix.O_RDONLY | Posix.O_DIRECTORY | Posix.O_CLOEXEC);
    return fd < 0 ? null : new Opened(fd, line.point(), line.root());
  }

  private record Line(String root, String point) {}

  /** The first cgroup2 line of /proc/self/mountinfo. */
  private static Line line() {
    for (String[] f : MountInfo.lines()) {
      int dash = Arrays.asList(f).indexOf("-");
      if (dash > 4 && dash + 1 < f.length && f[dash + 1].equals("cgroup2")) {
        return new Line(MountInfo.unescape(f[3]), MountInfo.unescape(f[4]));
      }
    }
    return null;
  }

  /** /proc/self/mountinfo, split into fields. */
  static final class MountInfo {
    private MountInfo() {}

    /**
     * Every line, split at spaces. Read as bytes (ISO-8859-1 keeps each byte a char): the kernel
     * does not escape bytes that are not UTF-8, and a user can mount on such a name (FUSE).
     */
    static List<String[]> lines() {
      try {
        String text = new String(Files.readAllBytes(Path.of("/proc/self/mountinfo")), StandardCharsets.ISO_8859_1);
        return text.lines().map(l -> l.split(" ")).toList();
      } catch (IOException | RuntimeException e) {
        return List.of();
      }
    }

    /** mountinfo writes space, tab, newline and backslash as three octal digits after a backslash. */
    static String unescape(String s) {
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        if (c == '\\' && i + 3 < s.length() && isOctal(s, i + 1)) {
          b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
          i += 3;
        } else {
          b.append(c);
        }
      }
      return b.toString();
    }

    private static boolean isOctal(String s, int from) {
      for (int i = from; i < from + 3; i++) {
        if (s.charAt(i) < '0' || s.charAt(i) > '7') {
          return false;
        }
      }
      return true;
    }
  }
}
