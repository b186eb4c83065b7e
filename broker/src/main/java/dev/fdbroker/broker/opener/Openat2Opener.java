package dev.fdbroker.broker.opener;

import dev.fdbroker.broker.posix.Errno;
import dev.fdbroker.broker.posix.Posix;

/** Opens with a single openat2(2) call whose resolver refuses every symlink on the way. */
final class Openat2Opener extends SecureOpener {

  /**
   * No symlinks: the kernel fails the whole lookup with ELOOP if any component, including the last,
   * is a symlink or a /proc magic link. One call, so there is no window for a component to be swapped.
   */
  private static final long RESOLVE = Posix.RESOLVE_NO_SYMLINKS | Posix.RESOLVE_NO_MAGICLINKS;

  /** Whether openat2 works here: absent before Linux 5.6 and blocked by some seccomp filters. */
  static boolean isSupported() {
    int fd = Posix.openat2(Posix.AT_FDCWD, "/", Posix.O_PATH | Posix.O_CLOEXEC, RESOLVE);
    if (fd >= 0) {
      Posix.close(fd);
      return true;
    }
    return fd != -Errno.ENOSYS && fd != -Errno.EPERM;
  }

  @Override
  public String name() {
    return "openat2";
  }

  /** Without O_NOFOLLOW: RESOLVE_NO_SYMLINKS then refuses a final symlink too, rather than pinning it. */
  @Override
  int pinNoFollow(String path) {
    return Posix.openat2(Posix.AT_FDCWD, path, PIN_FLAGS, RESOLVE);
  }

  /**
   * With O_NOFOLLOW: RESOLVE_NO_SYMLINKS still refuses a link before the last component, and an
   * O_PATH|O_NOFOLLOW open pins a last one itself (openat2(2)).
   */
  @Override
  int pinItself(String path) {
    return Posix.openat2(Posix.AT_FDCWD, path, PIN_FLAGS | Posix.O_NOFOLLOW, RESOLVE);
  }
}
