package dev.fdbroker.broker.opener;

import dev.fdbroker.broker.posix.Errno;
import dev.fdbroker.broker.posix.FileStat;
import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.broker.posix.PosixException;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.PathSyntax;

/**
 * Opens a file for a caller the policy has already approved: read-only, without following a
 * symbolic link anywhere in the path, and only if it is a regular file, which is known before
 * anything is opened for reading.
 *
 * <p>Two strategies share that contract by pinning the file with an {@code O_PATH} descriptor:
 * {@link Openat2Opener} (one openat2 call, Linux 5.6+) and {@link WalkingOpener} (a
 * component-by-component walk, where openat2 is missing or filtered). This class checks what was
 * pinned and opens it for reading.
 */
public abstract sealed class SecureOpener permits Openat2Opener, WalkingOpener {

  /**
   * Read-only: these are the only flags a granted file is ever opened with, so a receiver can never
   * write through it. Only a regular file is opened with them, where O_NONBLOCK and O_NOCTTY change
   * nothing; they stay so that a receiver sees the flags it always saw, and so that even a file of
   * another type could neither hang the open (a FIFO) nor become our terminal.
   */
  static final int OPEN_FLAGS = Posix.O_RDONLY | Posix.O_CLOEXEC | Posix.O_NOCTTY | Posix.O_NONBLOCK;

  /**
   * What the strategies pin a file with. An O_PATH open reaches the name only: it runs no open
   * routine (no FIFO rendezvous, no device driver) and checks no read permission.
   */
  static final int PIN_FLAGS = Posix.O_PATH | Posix.O_CLOEXEC;

  /** The refusal of a file that a rule with owner: caller allows, owned by someone else. */
  public static final String OWNER_MESSAGE = "not allowed by policy: the rule allows only files the caller owns";

  /** Linux's PATH_MAX, terminating NUL included. */
  private static final int KERNEL_PATH_MAX = 4096;

  /**
   * The best strategy this kernel supports, unless {@code -Dfdbroker.opener=walk|openat2} says
   * otherwise.
   *
   * @throws IllegalStateException if files cannot be reopened through /proc/self/fd here (no /proc)
   */
  public static SecureOpener forThisKernel() {
    String forced = System.getProperty("fdbroker.opener", "");
    SecureOpener opener = switch (forced) {
      case "walk" -> new WalkingOpener();
      case "openat2" -> new Openat2Opener();
      case "" -> Openat2Opener.isSupported() ? new Openat2Opener() : new WalkingOpener();
      default -> throw new IllegalArgumentException("fdbroker.opener must be walk or openat2, not " + forced);
    };
    requireReopening();
    return opener;
  }

  /**
   * Checks once, at start, that a pinned file can be reopened through /proc/self/fd (pinning "/"
   * and reopening it must give the same inode). Without /proc, every grant would fail; better to
   * say so at start than as an io_error per request. There is deliberately no fallback: the only
   * other way to open what was checked is to open by name again, before knowing what it is.
   */
  private static void requireReopening() {
    int pinned = Posix.openat(Posix.AT_FDCWD, "/", PIN_FLAGS | Posix.O_DIRECTORY);
    if (pinned < 0) {
      throw new IllegalStateException("cannot open / with O_PATH: " + Errno.name(-pinned));
    }
    try {
      int fd = Posix.reopen(pinned, Posix.O_RDONLY | Posix.O_CLOEXEC | Posix.O_DIRECTORY);
      if (fd < 0) {
        throw new IllegalStateException("cannot reopen a file through /proc/self/fd (" + Errno.name(-fd)
            + "): fdbroker opens each file that way after checking its type, so it needs /proc mounted");
      }
      try {
        FileStat viaProc = Posix.fstat(fd);
        FileStat root = Posix.fstat(pinned);
        if (viaProc.inode() != root.inode() || viaProc.device() != root.device()) {
          throw new IllegalStateException(
              "reopening / through /proc/self/fd gave another file: /proc is not the kernel's proc filesystem");
        }
      } finally {
        Posix.close(fd);
      }
    } catch (PosixException e) {
      throw new IllegalStateException("cannot check reopening through /proc/self/fd: " + e.getMessage(), e);
    } finally {
      Posix.close(pinned);
    }
  }

  /** A short name for logs: "openat2" or "walk". */
  public abstract String name();

  /** The owner argument of {@link #open(String, long)} that asks for none. */
  public static final long ANY_OWNER = -1;

  /**
   * Opens {@code path} (which must already be allowed by the policy), whoever owns it. The caller
   * owns the descriptor and the pin of an {@link OpenOutcome.Opened} result.
   */
  public final OpenOutcome open(String path) {
    return open(path, ANY_OWNER);
  }

  /**
   * Opens {@code path} (which must already be allowed by the policy) if {@code owner} owns it, or
   * whoever does for {@link #ANY_OWNER}. The caller owns the descriptor and the pin of an {@link
   * OpenOutcome.Opened} result.
   */
  public final OpenOutcome open(String path, long owner) {
    OpenOutcome.Refused unfit = unfit(path);
    if (unfit != null) {
      return unfit;
    }
    int pinned = pinNoFollow(path);
    if (pinned < 0) {
      return refusalFor(-pinned);
    }
    boolean handedOn = false;
    try {
      OpenOutcome outcome = openPinned(pinned, owner);
      handedOn = outcome instanceof OpenOutcome.Opened;
      return outcome;
    } finally {
      // A refusal lets go of the pin now; a grant hands it on, to be closed with the reopened file
      // once that is sent: the two are usually neighbours, closed in one call.
      if (!handedOn) {
        Posix.close(pinned);
      }
    }
  }

  /**
   * Describes {@code path} (which must already be allowed by the policy) as lstat would: a last
   * component that is a symbolic link is described as itself, a link before it refuses the path,
   * as for {@link #open}. Nothing is opened for reading: the pin is stat'ed and closed.
   */
  public final StatOutcome describe(String path) {
    OpenOutcome.Refused unfit = unfit(path);
    if (unfit != null) {
      return StatOutcome.Refused.of(unfit);
    }
    int pinned = pinItself(path);
    if (pinned < 0) {
      return StatOutcome.Refused.of(refusalFor(-pinned));
    }
    try {
      return new StatOutcome.Described(Posix.fstat(pinned));
    } catch (PosixException e) {
      return new StatOutcome.Refused(ErrorCode.IO_ERROR, e.getMessage());
    } finally {
      Posix.close(pinned);
    }
  }

  /**
   * Opens the directory {@code path} (which must already be allowed by the policy) to read its
   * entries, refusing it if a component is a symbolic link (the last included), as for {@link #open}.
   *
   * <p>Invariant: only a directory is opened for reading here, known from its pin, and reopened
   * through the pin as a file is; {@code O_DIRECTORY} makes sure of it once more.
   */
  public final DirectoryOutcome openDirectory(String path) {
    OpenOutcome.Refused unfit = unfit(path);
    if (unfit != null) {
      return DirectoryOutcome.Refused.of(unfit);
    }
    int pinned = pinNoFollow(path);
    if (pinned < 0) {
      return DirectoryOutcome.Refused.of(refusalFor(-pinned));
    }
    boolean handedOn = false;
    try {
      FileStat stat = Posix.fstat(pinned);
      if (stat.isSymlink()) {
        return DirectoryOutcome.Refused.of(refusalFor(Errno.ELOOP));
      }
      if (!stat.isDirectory()) {
        return new DirectoryOutcome.Refused(ErrorCode.NOT_DIRECTORY, "not a directory: it is " + stat.typeName());
      }
      int fd = Posix.reopen(pinned, Posix.O_RDONLY | Posix.O_CLOEXEC | Posix.O_DIRECTORY);
      if (fd < 0) {
        return DirectoryOutcome.Refused.of(reopenRefusal(-fd));
      }
      handedOn = true;
      return new DirectoryOutcome.Opened(new DirectoryReader(fd, pinned, stat));
    } catch (PosixException e) {
      return new DirectoryOutcome.Refused(ErrorCode.IO_ERROR, e.getMessage());
    } finally {
      if (!handedOn) {
        Posix.close(pinned);
      }
    }
  }

  /** Why a path may not even be looked up: not canonical, or longer than the kernel takes; else null. */
  private static OpenOutcome.Refused unfit(String path) {
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
    return null;
  }

  /**
   * Invariant: nothing is opened for reading before it is known to be a regular file. The type
   * comes from the pin, and the reopen goes through the pin's magic link, which leads to that very
   * inode rather than to whatever the path names by then: no rename in between can substitute a
   * FIFO or a device.
   */
  private static OpenOutcome openPinned(int pinned, long owner) {
    FileStat stat;
    try {
      stat = Posix.fstat(pinned);
    } catch (PosixException e) {
      return new OpenOutcome.Refused(ErrorCode.IO_ERROR, e.getMessage());
    }
    if (stat.isSymlink()) {
      return refusalFor(Errno.ELOOP); // the walk pins a final link itself
    }
    if (!stat.isRegularFile()) {
      return new OpenOutcome.Refused(ErrorCode.NOT_REGULAR, "not a regular file: it is " + stat.typeName());
    }
    // Invariant: a file granted only to its owner (owner: caller) is never opened for anyone else,
    // and is judged on the pin, the very inode that would be reopened.
    if (owner != ANY_OWNER && stat.owner() != owner) {
      return new OpenOutcome.Refused(ErrorCode.DENIED, OWNER_MESSAGE);
    }
    int fd = Posix.reopen(pinned, OPEN_FLAGS);
    if (fd < 0) {
      return reopenRefusal(-fd);
    }
    // The pin's stat is the reopened file's: the same inode, so no second statx is needed. (Its
    // size is a snapshot either way: a writer can change it right after any stat.)
    return new OpenOutcome.Opened(fd, pinned, stat);
  }

  /**
   * Pins the canonical absolute {@code path} with {@link #PIN_FLAGS}, following no symlink; returns
   * the O_PATH descriptor or -errno.
   */
  abstract int pinNoFollow(String path);

  /**
   * Pins {@code path} as {@link #pinNoFollow} does, except that a last component that is a
   * symbolic link is pinned itself (to be described, never followed); returns the O_PATH descriptor
   * or -errno.
   */
  abstract int pinItself(String path);

  /**
   * Why a pin failed. An O_PATH open runs no open routine, so ENXIO and ENODEV (a socket, a device
   * with no driver) cannot arise: such files are pinned and then refused by their type.
   */
  static OpenOutcome.Refused refusalFor(int errno) {
    return switch (errno) {
      case Errno.ELOOP -> new OpenOutcome.Refused(ErrorCode.SYMLINK,
          "a component of the path is a symbolic link, and fdbroker never follows one");
      case Errno.ENOENT -> new OpenOutcome.Refused(ErrorCode.NOT_FOUND, "no such file");
      case Errno.ENOTDIR -> new OpenOutcome.Refused(ErrorCode.NOT_FOUND,
          "no such file: a component of the path is not a directory");
      case Errno.EACCES, Errno.EPERM -> denied(errno);
      case Errno.EMFILE, Errno.ENFILE, Errno.ENOMEM -> busy(errno);
      case Errno.ENAMETOOLONG -> new OpenOutcome.Refused(ErrorCode.BAD_REQUEST,
          "a component of the path is too long for the filesystem");
      default -> new OpenOutcome.Refused(ErrorCode.IO_ERROR, "open failed: " + Errno.name(errno));
    };
  }

  /**
   * Why the reopen of a pinned regular file failed. The name was resolved already, so only
   * permission (checked here for the first time: a pin needs none) and resources are the caller's
   * answer; anything else (ENOENT: /proc is gone) is the broker's own trouble.
   */
  static OpenOutcome.Refused reopenRefusal(int errno) {
    return switch (errno) {
      case Errno.EACCES, Errno.EPERM -> denied(errno);
      case Errno.EMFILE, Errno.ENFILE, Errno.ENOMEM -> busy(errno);
      default -> new OpenOutcome.Refused(ErrorCode.IO_ERROR,
          "reopening the checked file through /proc/self/fd failed: " + Errno.name(errno));
    };
  }

  private static OpenOutcome.Refused denied(int errno) {
    return new OpenOutcome.Refused(ErrorCode.DENIED,
        "the filesystem does not let the broker open it (" + Errno.name(errno) + ")");
  }

  private static OpenOutcome.Refused busy(int errno) {
    return new OpenOutcome.Refused(ErrorCode.BUSY,
        "the broker is out of resources (" + Errno.name(errno) + "); try again later");
  }
}
