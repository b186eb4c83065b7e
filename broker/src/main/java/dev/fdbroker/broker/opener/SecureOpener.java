package dev.fdbroker.broker.opener;

import dev.fdbroker.broker.posix.Errno;
import dev.fdbroker.broker.posix.FileStat;
import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.broker.posix.PosixException;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.PathSyntax;

/**
 * Opens a file for a caller the policy has already approved: read-only, without following a
 * symbolic link anywhere in the path, and only if it is a regular file.
 *
 * <p>Two strategies share that contract: {@link Openat2Opener} (one openat2 call, Linux 5.6+) and
 * {@link WalkingOpener} (a component-by-component walk, where openat2 is missing or filtered).
 */
public abstract sealed class SecureOpener permits Openat2Opener, WalkingOpener {

  /**
   * Read-only: these are the only flags a granted file is ever opened with, so a receiver can never
   * write through it. O_NONBLOCK keeps a FIFO from hanging the open; O_NOCTTY keeps a terminal from
   * becoming ours.
   */
  static final int OPEN_FLAGS = Posix.O_RDONLY | Posix.O_CLOEXEC | Posix.O_NOCTTY | Posix.O_NONBLOCK;

  /** Linux's PATH_MAX, terminating NUL included. */
  private static final int KERNEL_PATH_MAX = 4096;

  /** The best strategy this kernel supports, unless {@code -Dfdbroker.opener=walk|openat2} says otherwise. */
  public static SecureOpener forThisKernel() {
    String forced = System.getProperty("fdbroker.opener", "");
    return switch (forced) {
      case "walk" -> new WalkingOpener();
      case "openat2" -> new Openat2Opener();
      case "" -> Openat2Opener.isSupported() ? new Openat2Opener() : new WalkingOpener();
      default -> throw new IllegalArgumentException("fdbroker.opener must be walk or openat2, not " + forced);
    };
  }

  /** A short name for logs: "openat2" or "walk". */
  public abstract String name();

  /**
   * Opens {@code path} (which must already be allowed by the policy). The caller owns the
   * descriptor of an {@link OpenOutcome.Opened} result.
   */
  public final OpenOutcome open(String path) {
    // The policy matched this exact text; a non-canonical path could name a different file.
    int bytes = PathSyntax.canonicalLength(path);
    if (bytes < 0) {
      return new OpenOutcome.Refused(ErrorCode.BAD_REQUEST, PathSyntax.problem(path));
    }
    // PATH_MAX counts the terminating NUL: the kernel takes at most 4095 bytes. Said here, so that
    // both strategies agree (the walk never hands the kernel the whole path).
    if (bytes >= KERNEL_PATH_MAX) {
      return new OpenOutcome.Refused(ErrorCode.BAD_REQUEST,
          "path is too long for the kernel (4096 bytes including the terminating NUL)");
    }
    int fd = openNoFollow(path);
    if (fd < 0) {
      return refusalFor(-fd);
    }
    FileStat stat;
    try {
      stat = Posix.fstat(fd);
    } catch (PosixException e) {
      Posix.close(fd);
      return new OpenOutcome.Refused(ErrorCode.IO_ERROR, e.getMessage());
    }
    // Only regular files pass: a directory, FIFO, socket or device is closed again at once.
    if (!stat.isRegularFile()) {
      Posix.close(fd);
      return new OpenOutcome.Refused(ErrorCode.NOT_REGULAR, "not a regular file: it is " + stat.typeName());
    }
    return new OpenOutcome.Opened(fd, stat);
  }

  /** Opens the canonical absolute {@code path} with {@link #OPEN_FLAGS}, following no symlink; returns fd or -errno. */
  abstract int openNoFollow(String path);

  static OpenOutcome.Refused refusalFor(int errno) {
    return switch (errno) {
      case Errno.ELOOP -> new OpenOutcome.Refused(ErrorCode.SYMLINK,
          "a component of the path is a symbolic link, and fdbroker never follows one");
      case Errno.ENOENT -> new OpenOutcome.Refused(ErrorCode.NOT_FOUND, "no such file");
      case Errno.ENOTDIR -> new OpenOutcome.Refused(ErrorCode.NOT_FOUND,
          "no such file: a component of the path is not a directory");
      case Errno.EACCES, Errno.EPERM -> new OpenOutcome.Refused(ErrorCode.DENIED,
          "the filesystem does not let the broker open it (" + Errno.name(errno) + ")");
      case Errno.ENXIO, Errno.ENODEV -> new OpenOutcome.Refused(ErrorCode.NOT_REGULAR,
          "not a regular file (" + Errno.name(errno) + ")");
      case Errno.EMFILE, Errno.ENFILE, Errno.ENOMEM -> new OpenOutcome.Refused(ErrorCode.BUSY,
          "the broker is out of resources (" + Errno.name(errno) + "); try again later");
      case Errno.ENAMETOOLONG -> new OpenOutcome.Refused(ErrorCode.BAD_REQUEST,
          "a component of the path is too long for the filesystem");
      default -> new OpenOutcome.Refused(ErrorCode.IO_ERROR, "open failed: " + Errno.name(errno));
    };
  }
}
