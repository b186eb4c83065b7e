package dev.fdbroker.broker.opener;

import dev.fdbroker.broker.posix.Errno;
import dev.fdbroker.broker.posix.FileStat;
import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.broker.posix.PosixException;

/**
 * Opens by walking the path one component at a time from "/", each step relative to the directory
 * descriptor of the step before, for kernels without openat2.
 */
final class WalkingOpener extends SecureOpener {

  /** Every step, the last included: pins the component itself, a link included. */
  private static final int STEP_FLAGS = PIN_FLAGS | Posix.O_NOFOLLOW;

  @Override
  public String name() {
    return "walk";
  }

  /**
   * No symlinks: every component is opened with O_PATH|O_NOFOLLOW (which opens a link itself
   * rather than its target); each intermediate one must then be a directory, and a last one that
   * is a link is refused by {@link SecureOpener#open}'s type check. Holding each directory open
   * means renaming or swapping a component later cannot redirect the walk.
   */
  @Override
  int pinNoFollow(String path) {
    int dir = Posix.openat(Posix.AT_FDCWD, "/", STEP_FLAGS | Posix.O_DIRECTORY);
    if (dir < 0) {
      return dir;
    }
    try {
      int start = 1;
      while (true) {
        int slash = path.indexOf('/', start);
        if (slash < 0) {
          String last = start == path.length() ? "." : path.substring(start); // "." only for "/" itself
          return Posix.openat(dir, last, STEP_FLAGS);
        }
        int next = Posix.openat(dir, path.substring(start, slash), STEP_FLAGS);
        if (next < 0) {
          return next;
        }
        Posix.close(dir);
        dir = next;
        int problem = directoryProblem(dir);
        if (problem != 0) {
          return -problem;
        }
        start = slash + 1;
      }
    } finally {
      Posix.close(dir);
    }
  }

  private static int directoryProblem(int fd) {
    try {
      FileStat stat = Posix.fstat(fd);
      if (stat.isSymlink()) {
        return Errno.ELOOP;
      }
      return stat.isDirectory() ? 0 : Errno.ENOTDIR;
    } catch (PosixException e) {
      return e.errno();
    }
  }

  /** The walk pins every component itself already, the last included. */
  @Override
  int pinItself(String path) {
    return pinNoFollow(path);
  }
}
