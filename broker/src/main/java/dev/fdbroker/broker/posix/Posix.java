package dev.fdbroker.broker.posix;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Optional;

/**
 * The broker's only native code: the few POSIX calls Java lacks, made through the JDK's own FFM
 * API (java.lang.foreign). jnr-posix was considered and rejected; see docs/architecture.md.
 *
 * <p>Calls that fail routinely (opening) return {@code -errno} like the kernel does, so that a
 * refusal costs no exception; the rest throw {@link PosixException}. Every descriptor is opened
 * with {@code O_CLOEXEC}, so none leaks into a child process.
 */
public final class Posix {
  public static final int AT_FDCWD = -100;
  public static final int O_RDONLY = 0;
  public static final int O_NOCTTY = 0x100;
  public static final int O_NONBLOCK = 0x800;
  public static final int O_CLOEXEC = 0x80000;
  public static final int O_PATH = 0x200000;
  /** Differs between architectures (asm-generic vs arm64). */
  public static final int O_DIRECTORY;
  /** Differs between architectures (asm-generic vs arm64). */
  public static final int O_NOFOLLOW;
  public static final long RESOLVE_NO_MAGICLINKS = 0x02;
  public static final long RESOLVE_NO_SYMLINKS = 0x04;

  /** openat2 and close_range have the same numbers on every architecture (syscalls after 424 were unified). */
  private static final long SYS_OPENAT2 = 437;
  private static final long SYS_CLOSE_RANGE = 436;
  /** The other system calls' numbers differ between x86_64 and the generic table (aarch64, riscv64). */
  private static final long SYS_OPENAT;
  private static final long SYS_STATX;
  private static final long SYS_IOCTL;
  private static final long SYS_GETSOCKOPT;
  private static final long SYS_RECVFROM;
  private static final long SYS_SENDMSG;
  private static final long SYS_CLOSE;
  private static final long SYS_OPEN_BY_HANDLE_AT;
  private static final long SYS_GETDENTS64;
  private static final long SYS_LSEEK;
  private static final long OPEN_HOW_SIZE = 24;
  private static final int AT_EMPTY_PATH = 0x1000;
  private static final int AT_SYMLINK_NOFOLLOW = 0x100;
  private static final int AT_NO_AUTOMOUNT = 0x800;
  private static final int STATX_BASIC_STATS = 0x7ff;
  private static final long STATX_SIZE = 256;
  /** ioctl request for the bytes a socket has sent that its peer has not yet read (generic value). */
  private static final long SIOCOUTQ = 0x5411;

  static {
    String arch = System.getProperty("os.arch");
    switch (arch) {
      case "amd64", "x86_64", "riscv64" -> {
        O_DIRECTORY = 0x10000;
        O_NOFOLLOW = 0x20000;
      }
      case "aarch64" -> {
        O_DIRECTORY = 0x4000;
        O_NOFOLLOW = 0x8000;
      }
      default -> throw new ExceptionInInitializerError(
          "fdbroker does not know the open(2) flag values of architecture " + arch);
    }
    if (arch.equals("amd64") || arch.equals("x86_64")) {
      SYS_OPENAT = 257;
      SYS_STATX = 332;
      SYS_IOCTL = 16;
      SYS_GETSOCKOPT = 55;
      SYS_RECVFROM = 45;
      SYS_SENDMSG = 46;
      SYS_CLOSE = 3;
      SYS_OPEN_BY_HANDLE_AT = 304;
      SYS_GETDENTS64 = 217;
      SYS_LSEEK = 8;
    } else { // asm-generic/unistd.h
      SYS_OPENAT = 56;
      SYS_STATX = 291;
      SYS_IOCTL = 29;
      SYS_GETSOCKOPT = 209;
      SYS_RECVFROM = 207;
      SYS_SENDMSG = 211;
      SYS_CLOSE = 57;
      SYS_OPEN_BY_HANDLE_AT = 265;
      SYS_GETDENTS64 = 61;
      SYS_LSEEK = 62;
    }
  }

  private static final Linker LINKER = Linker.nativeLinker();
  private static final SymbolLookup LIBC = LINKER.defaultLookup();
  private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO =
      CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
  private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

  /**
   * syscall(2), the one downcall the request path and start-up use: every call below is made
   * through it, with the kernel's own arguments (longs, pointers as addresses). One call shape
   * means one stub for FFM to generate and link at start instead of one per function, which on
   * these machines took most of a second of CPU time (the generator and its JIT compilation).
   */
  private static final MethodHandle SYSCALL = downcall("syscall",
      FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
      Linker.Option.firstVariadicArg(1), CAPTURE_ERRNO);

  /** Returns the kernel's result, or -1 with errno in {@code capture}. */
  private static long syscall(MemorySegment capture, long number, long a1, long a2, long a3, long a4, long a5,
      long a6) {
    try {
      return (long) SYSCALL.invokeExact(capture, number, a1, a2, a3, a4, a5, a6);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * The user and group database calls, each linked on its first use (a class of its own): only
   * policies that name users or groups need most of them, and linking a downcall costs milliseconds
   * of start-up (a stub generated per call shape). Every connection needs getpwuid_r (the caller's
   * user name), which start-up links ahead of the first connection ({@link #linkUserLookup}).
   */
  private static final class PwNam {
    static final MethodHandle GETPWNAM_R = downcall("getpwnam_r",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
  }

  private static final class PwUid {
    static final MethodHandle GETPWUID_R = downcall("getpwuid_r",
        FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
  }

  private static final class GrNam {
    static final MethodHandle GETGRNAM_R = downcall("getgrnam_r",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
  }

  private static final class GrGid {
    static final MethodHandle GETGRGID_R = downcall("getgrgid_r",
        FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
  }

  private static final class GroupList {
    static final MethodHandle GETGROUPLIST = downcall("getgrouplist",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
  }

  /**
   * Links getpwuid_r, which {@link #userById} uses, without calling it: done at start on a second
   * thread, so that the first connection, whose caller's user name is looked up, does not wait
   * for the stub to be generated.
   */
  public static void linkUserLookup() {
    PwUid.GETPWUID_R.type();
  }

  // struct passwd and struct group on LP64 Linux (glibc and musl alike).
  private static final long PASSWD_SIZE = 48;
  private static final long PW_NAME = 0;
  private static final long PW_UID = 16;
  private static final long PW_GID = 20;
  private static final long GROUP_SIZE = 32;
  private static final long GR_NAME = 0;
  private static final long GR_GID = 16;
  private static final long MAX_NSS_BUFFER = 1 << 22;
  private static final int ESRCH = 3;

  private Posix() {}

  /**
   * Native memory a thread reuses for the calls on the request path, instead of allocating and
   * freeing some for every call: a path (up to PATH_MAX), an open_how, a statx buffer, an int, and
   * the errno capture. Freed with its thread (an automatic arena). The thread-local map holds it,
   * so its memory stays allocated while a call uses its addresses.
   */
  private static final class Scratch {
    static final long PATH_BYTES = 4096;
    final MemorySegment capture;
    final MemorySegment path;
    final MemorySegment how;
    final MemorySegment stat;
    final MemorySegment integer;
    final MemorySegment empty;
    /** For receiving: grown on demand up to a frame's size. */
    MemorySegment received;
    /** For sending: the frame, grown on demand; and a msghdr, its iovec and the SCM_RIGHTS message. */
    MemorySegment sent;
    MemorySegment message;

    Scratch() {
      Arena arena = Arena.ofAuto();
      capture = arena.allocate(CAPTURE_LAYOUT);
      path = arena.allocate(PATH_BYTES);
      how = arena.allocate(OPEN_HOW_SIZE, 8);
      stat = arena.allocate(STATX_SIZE, 8);
      integer = arena.allocate(JAVA_INT);
      empty = arena.allocate(1);
    }

    /** {@code s} as a NUL-terminated UTF-8 string in {@link #path}, or null if it does not fit. */
    MemorySegment path(String s) {
      if (s.indexOf('\0') >= 0) {
        throw new IllegalArgumentException("string holds a NUL byte");
      }
      // A Java char takes at most 3 UTF-8 bytes (a surrogate pair, 2 chars, takes 4).
      if ((long) s.length() * 3 + 1 > PATH_BYTES) {
        return null;
      }
      path.setString(0, s);
      return path;
    }
  }

  /**
   * recv(2) into {@code dst}, blocking as the socket's mode and receive timeout say. Returns the
   * count (0 at end of stream), or {@code -errno} ({@code -EAGAIN} when the receive timeout passed).
   * Descriptors a peer attached are closed by the kernel: no control buffer is given.
   */
  public static int recv(int fd, byte[] dst, int off, int len, int flags) {
    Scratch scratch = SCRATCH.get();
    MemorySegment buf = scratch.received;
    if (buf == null || buf.byteSize() < len) {
      buf = Arena.ofAuto().allocate(Math.max(len, 1024));
      scratch.received = buf;
    }
    while (true) {
      long r = syscall(scratch.capture, SYS_RECVFROM, fd, buf.address(), len, flags, 0, 0);
      if (r >= 0) {
        if (r > 0) {
          MemorySegment.copy(buf, JAVA_BYTE, 0, dst, off, (int) r);
        }
        return (int) r;
      }
      int e = errno(scratch.capture);
      if (e != Errno.EINTR) {
        return -e;
      }
    }
  }

  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  /** The most descriptors one message carries: the kernel's SCM_MAX_FD. */
  public static final int MAX_DESCRIPTORS_SENT = 253;
  private static final long MSGHDR_BYTES = 56;
  private static final long IOVEC_BYTES = 16;
  private static final long CMSGHDR_BYTES = 16;
  private static final int SCM_RIGHTS = 1;
  private static final int MSG_NOSIGNAL = 0x4000;

  /**
   * sendmsg(2) of {@code len} bytes of {@code src} from {@code off}, with {@code count} descriptors
   * of {@code fds} attached (SCM_RIGHTS; none if 0), and MSG_NOSIGNAL: the bytes sent, or -errno.
   * One system call, as junixsocket makes, without its JNI transitions, its copy of the frame into
   * a direct buffer of its own and a FileDescriptor object per descriptor.
   */
  public static long sendmsg(int fd, byte[] src, int off, int len, int[] fds, int count) {
    if (count < 0 || count > MAX_DESCRIPTORS_SENT || count > fds.length) {
      throw new IllegalArgumentException("descriptors to send: " + count);
    }
    Scratch scratch = SCRATCH.get();
    MemorySegment buf = scratch.sent;
    if (buf == null || buf.byteSize() < len) {
      buf = Arena.ofAuto().allocate(Math.max(len, 1024));
      scratch.sent = buf;
    }
    MemorySegment msg = scratch.message;
    if (msg == null) {
      msg = Arena.ofAuto().allocate(MSGHDR_BYTES + IOVEC_BYTES + CMSGHDR_BYTES + 4L * MAX_DESCRIPTORS_SENT + 4, 8);
      scratch.message = msg;
    }
    MemorySegment.copy(src, off, buf, JAVA_BYTE, 0, len);
    // The iovec and the control message are written by offset into the one segment, not through
    // slices of it: a slice is an object, and this runs for every reply.
    long iov = MSGHDR_BYTES;
    msg.set(JAVA_LONG, iov, buf.address());
    msg.set(JAVA_LONG, iov + 8, len);
    msg.set(JAVA_LONG, 0, 0); // msg_name
    msg.set(JAVA_LONG, 8, 0); // msg_namelen, and padding
    msg.set(JAVA_LONG, 16, msg.address() + iov);
    msg.set(JAVA_LONG, 24, 1); // msg_iovlen
    if (count > 0) {
      long cmsg = MSGHDR_BYTES + IOVEC_BYTES;
      long dataBytes = 4L * count;
      msg.set(JAVA_LONG, cmsg, CMSGHDR_BYTES + dataBytes); // cmsg_len: CMSG_LEN
      msg.set(JAVA_INT, cmsg + 8, SOL_SOCKET);
      msg.set(JAVA_INT, cmsg + 12, SCM_RIGHTS);
      MemorySegment.copy(fds, 0, msg, JAVA_INT, cmsg + CMSGHDR_BYTES, count);
      msg.set(JAVA_LONG, 32, msg.address() + cmsg);
      msg.set(JAVA_LONG, 40, CMSGHDR_BYTES + ((dataBytes + 7) & ~7L)); // msg_controllen: CMSG_SPACE
    } else {
      msg.set(JAVA_LONG, 32, 0);
      msg.set(JAVA_LONG, 40, 0);
    }
    msg.set(JAVA_INT, 48, 0); // msg_flags
    while (true) {
      long r = syscall(scratch.capture, SYS_SENDMSG, fd, msg.address(), MSG_NOSIGNAL, 0, 0, 0);
      if (r >= 0) {
        return r;
      }
      int e = errno(scratch.capture);
      if (e != Errno.EINTR) {
        return -e;
      }
    }
  }

  private static MethodHandle downcall(String name, FunctionDescriptor fd, Linker.Option... options) {
    MemorySegment symbol = LIBC.find(name)
        .orElseThrow(() -> new ExceptionInInitializerError("libc has no " + name));
    return LINKER.downcallHandle(symbol, fd, options);
  }

  private static int errno(MemorySegment capture) {
    return (int) ERRNO.get(capture, 0L);
  }

  private static MemorySegment cString(Arena arena, String s) {
    if (s.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("string holds a NUL byte");
    }
    return arena.allocateFrom(s); // UTF-8, NUL-terminated
  }

  /**
   * openat2(2): opens {@code path} relative to {@code dirfd} with the given open flags and resolve
   * restrictions. Returns the new descriptor, or {@code -errno}; {@code -ENOSYS} where the kernel
   * (or a seccomp filter) lacks openat2.
   */
  public static int openat2(int dirfd, String path, long flags, long resolve) {
    Scratch scratch = SCRATCH.get();
    MemorySegment cpath = scratch.path(path);
    if (cpath == null) {
      try (Arena arena = Arena.ofConfined()) {
        return openat2(scratch, dirfd, cString(arena, path), flags, resolve);
      }
    }
    return openat2(scratch, dirfd, cpath, flags, resolve);
  }

  private static int openat2(Scratch scratch, int dirfd, MemorySegment cpath, long flags, long resolve) {
    MemorySegment how = scratch.how;
    how.set(JAVA_LONG, 0, flags);
    how.set(JAVA_LONG, 8, 0L); // mode: nothing is ever created
    how.set(JAVA_LONG, 16, resolve);
    while (true) {
      long r = syscall(scratch.capture, SYS_OPENAT2, dirfd, cpath.address(), how.address(), OPEN_HOW_SIZE, 0, 0);
      if (r >= 0) {
        return (int) r;
      }
      int e = errno(scratch.capture);
      if (e != Errno.EINTR) {
        return -e;
      }
    }
  }

  /** openat(2) without O_CREAT. Returns the new descriptor, or {@code -errno}. */
  public static int openat(int dirfd, String path, int flags) {
    Scratch scratch = SCRATCH.get();
    MemorySegment cpath = scratch.path(path);
    if (cpath == null) {
      try (Arena arena = Arena.ofConfined()) {
        return openat(scratch, dirfd, cString(arena, path), flags);
      }
    }
    return openat(scratch, dirfd, cpath, flags);
  }

  private static int openat(Scratch scratch, int dirfd, MemorySegment cpath, int flags) {
    while (true) {
      long r = syscall(scratch.capture, SYS_OPENAT, dirfd, cpath.address(), flags, 0, 0, 0);
      if (r >= 0) {
        return (int) r;
      }
      int e = errno(scratch.capture);
      if (e != Errno.EINTR) {
        return -e;
      }
    }
  }

  /**
   * Opens, with {@code flags}, the very file that {@code pinned} (an {@code O_PATH} descriptor)
   * refers to, through its magic link {@code /proc/self/fd/N} (looked up in a descriptor of
   * {@code /proc/self/fd} kept open, {@link ProcSelfFd}): the kernel jumps to that file
   * without looking any name up again, then checks permission and runs the file's open as for any
   * open. {@code flags} must not hold {@code O_NOFOLLOW}, which would refuse the link itself.
   * Returns the new descriptor, or {@code -errno} ({@code -ENOENT} when /proc is not mounted).
   */
  public static int reopen(int pinned, int flags) {
    int dir = ProcSelfFd.DIR;
    if (dir < 0) {
      return dir;
    }
    // The descriptor's number, in decimal, as the name to look up in /proc/self/fd: written into
    // the thread's path buffer, so that a reopen allocates nothing.
    Scratch scratch = SCRATCH.get();
    MemorySegment name = scratch.path;
    int digits = 1;
    for (int n = pinned; n >= 10; n /= 10) {
      digits++;
    }
    for (int i = digits - 1, n = pinned; i >= 0; i--, n /= 10) {
      name.set(JAVA_BYTE, i, (byte) ('0' + n % 10));
    }
    name.set(JAVA_BYTE, digits, (byte) 0);
    return openat(scratch, dir, name, flags);
  }

  /**
   * {@code /proc/self/fd}, opened once ({@code O_PATH}) and kept for the process's life: a reopen
   * then looks up one name in it instead of walking three components to it from the root, which
   * measured 0.5 to 1.5 µs less per file. /proc/self is resolved to this process once, here; the
   * broker never forks, so it stays right. Holds {@code -errno} if it could not be opened (no /proc).
   */
  private static final class ProcSelfFd {
    static final int DIR = openat(AT_FDCWD, "/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
  }

  /** fstat(2), through statx(2), whose result layout is the same on every architecture. */
  public static FileStat fstat(int fd) throws PosixException {
    Scratch scratch = SCRATCH.get();
    MemorySegment buf = scratch.stat;
    long r = syscall(scratch.capture, SYS_STATX, fd, scratch.empty.address(), AT_EMPTY_PATH, STATX_BASIC_STATS,
        buf.address(), 0);
    if (r != 0) {
      throw new PosixException("statx", errno(scratch.capture));
    }
    return statOf(buf);
  }

  /**
   * lstat(2) of the entry {@code name} (one component, raw bytes as the directory holds them) of
   * the directory {@code dirfd}, through statx(2): a symbolic link is described as itself, and an
   * automount point is not triggered.
   */
  public static FileStat statEntry(int dirfd, byte[] name) throws PosixException {
    Scratch scratch = SCRATCH.get();
    if (name.length + 1 > Scratch.PATH_BYTES) {
      throw new PosixException("statx", Errno.ENAMETOOLONG);
    }
    MemorySegment cname = scratch.path;
    MemorySegment.copy(name, 0, cname, JAVA_BYTE, 0, name.length);
    cname.set(JAVA_BYTE, name.length, (byte) 0);
    MemorySegment buf = scratch.stat;
    long r = syscall(scratch.capture, SYS_STATX, dirfd, cname.address(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
        STATX_BASIC_STATS, buf.address(), 0);
    if (r != 0) {
      throw new PosixException("statx", errno(scratch.capture));
    }
    return statOf(buf);
  }

  private static FileStat statOf(MemorySegment buf) {
    int nlink = buf.get(JAVA_INT, 16);
    long owner = buf.get(JAVA_INT, 20) & 0xffffffffL;
    // struct statx_timestamp stx_mtime: tv_sec (s64) at 112, tv_nsec (u32) at 120.
    long mtimeNs = buf.get(JAVA_LONG, 112) * 1_000_000_000L + (buf.get(JAVA_INT, 120) & 0xffffffffL);
    int mode = buf.get(JAVA_SHORT, 28) & 0xffff;
    long inode = buf.get(JAVA_LONG, 32);
    long size = buf.get(JAVA_LONG, 40);
    long device = ((buf.get(JAVA_INT, 136) & 0xffffffffL) << 32) | (buf.get(JAVA_INT, 140) & 0xffffffffL);
    return new FileStat(mode, size, inode, device, nlink, owner, mtimeNs);
  }

  /** lseek(2) to {@code offset} from the start. Returns 0, or {@code -errno}. */
  public static int seek(int fd, long offset) {
    MemorySegment capture = SCRATCH.get().capture;
    return syscall(capture, SYS_LSEEK, fd, offset, 0 /* SEEK_SET */, 0, 0, 0) < 0 ? -errno(capture) : 0;
  }

  /**
   * getdents64(2) into {@code buffer}: fills it with {@code struct linux_dirent64} records from the
   * directory's current position. Returns the bytes filled (0 at the end), or {@code -errno}.
   */
  public static int readDirectory(int fd, MemorySegment buffer) {
    MemorySegment capture = SCRATCH.get().capture;
    while (true) {
      long r = syscall(capture, SYS_GETDENTS64, fd, buffer.address(), buffer.byteSize(), 0, 0, 0);
      if (r >= 0) {
        return (int) r;
      }
      int e = errno(capture);
      if (e != Errno.EINTR) {
        return -e;
      }
    }
  }

  /**
   * close(2). Returns 0 or {@code -errno}. Never retried on EINTR: on Linux the descriptor is gone
   * either way, and a retry could close a descriptor another thread just received.
   */
  public static int close(int fd) {
    MemorySegment capture = SCRATCH.get().capture;
    return syscall(capture, SYS_CLOSE, fd, 0, 0, 0, 0, 0) == 0 ? 0 : -errno(capture);
  }

  /** Whether close_range(2) works here (Linux 5.9+, and no seccomp filter refusing it). */
  private static volatile boolean closeRangeWorks = true;

  /**
   * Closes two descriptors this thread owns. A pin and the file reopened from it are usually
   * neighbours (the kernel hands out the lowest free numbers), and then one close_range(2) closes
   * both: a system call per granted file less. The range holds exactly the two, so nothing else
   * can be closed by it. Otherwise, or where close_range is missing, one close(2) each.
   */
  public static void closePair(int first, int second) {
    int low = Math.min(first, second);
    int high = Math.max(first, second);
    if (high == low + 1 && closeRangeWorks) {
      MemorySegment capture = SCRATCH.get().capture;
      if (syscall(capture, SYS_CLOSE_RANGE, low, high, 0, 0, 0, 0) == 0) {
        return;
      }
      if (errno(capture) == Errno.ENOSYS || errno(capture) == Errno.EPERM) {
        closeRangeWorks = false;
      }
    }
    close(first);
    close(second);
  }

  /**
   * ioctl(SIOCOUTQ) on a unix stream socket: how much of what it sent its peer has not yet read
   * (0 once the peer has consumed everything). Returns that count, or {@code -errno}.
   */
  public static int unreadByPeer(int socketFd) {
    Scratch scratch = SCRATCH.get();
    long r = syscall(scratch.capture, SYS_IOCTL, socketFd, SIOCOUTQ, scratch.integer.address(), 0, 0, 0);
    return r < 0 ? -errno(scratch.capture) : scratch.integer.get(JAVA_INT, 0);
  }

  public static final int SOL_SOCKET = 1;
  public static final int SO_TYPE = 3;
  public static final int SO_ACCEPTCONN = 30;
  public static final int SO_DOMAIN = 39;
  public static final int SOCK_STREAM = 1;
  public static final int AF_UNIX = 1;

  /** getsockopt(2) for an int-valued option. Returns the value, or {@code -errno}. */
  public static int socketOption(int fd, int level, int option) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment capture = arena.allocate(CAPTURE_LAYOUT);
      MemorySegment value = arena.allocate(JAVA_INT);
      MemorySegment length = arena.allocate(JAVA_INT);
      length.set(JAVA_INT, 0, 4);
      long r = syscall(capture, SYS_GETSOCKOPT, fd, level, option, value.address(), length.address(), 0);
      return r < 0 ? -errno(capture) : value.get(JAVA_INT, 0);
    }
  }

  private static final int SO_PEERGROUPS = 59;
  private static final int SO_PEERPIDFD = 77;
  /** The same on every architecture: numbers from 424 on are shared by all. */
  private static final long SYS_PIDFD_SEND_SIGNAL = 424;
  /** NGROUPS_MAX: a process has at most this many supplementary groups. */
  private static final int MAX_GROUPS = 65536;

  /**
   * The supplementary groups of a unix socket's peer as the kernel recorded them when it connected
   * (SO_PEERGROUPS), sorted; null if the kernel gives none.
   */
  public static long[] peerGroups(int socketFd) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment capture = arena.allocate(CAPTURE_LAYOUT);
      MemorySegment length = arena.allocate(JAVA_INT);
      int bytes = 64 * 4;
      for (int attempt = 0; attempt < 3; attempt++) {
        MemorySegment value = arena.allocate(bytes, 4);
        length.set(JAVA_INT, 0, bytes);
        long r = syscall(capture, SYS_GETSOCKOPT, socketFd, SOL_SOCKET, SO_PEERGROUPS, value.address(),
            length.address(), 0);
        int got = length.get(JAVA_INT, 0);
        if (r == 0) {
          long[] groups = new long[got / 4];
          for (int i = 0; i < groups.length; i++) {
            groups[i] = value.get(JAVA_INT, i * 4L) & 0xffffffffL;
          }
          java.util.Arrays.sort(groups);
          return groups;
        }
        // ERANGE: the kernel wrote back the length it needs.
        if (errno(capture) != Errno.ERANGE || got <= bytes || got > MAX_GROUPS * 4) {
          return null;
        }
        bytes = got;
      }
      return null;
    }
  }

  /**
   * A pidfd for the process at the other end of a unix socket, the one that connected
   * (SO_PEERPIDFD, Linux 6.5+). Unlike its pid, a pidfd can never come to name another process.
   * Returns the descriptor (the caller closes it), or {@code -errno}: ENOPROTOOPT on older kernels,
   * and an error if that process has already been reaped.
   */
  public static int peerPidfd(int socketFd) {
    return socketOption(socketFd, SOL_SOCKET, SO_PEERPIDFD);
  }

  /**
   * Whether the process a pidfd names has not yet been reaped, so that its pid still names it and
   * nothing else: pidfd_send_signal(2) with signal 0 checks existence only. EPERM (not allowed to
   * signal it) still means it exists; any other error counts as gone.
   */
  public static boolean pidfdNamesLiveProcess(int pidfd) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment capture = arena.allocate(CAPTURE_LAYOUT);
      long r = syscall(capture, SYS_PIDFD_SEND_SIGNAL, pidfd, 0, 0, 0, 0, 0);
      return r == 0 || errno(capture) == Errno.EPERM;
    }
  }

  /** _IOWR(PIDFS_IOCTL_MAGIC 0xFF, 11, struct pidfd_info of 64 bytes), the same on every architecture. */
  private static final long PIDFD_GET_INFO = 0xC040FF0BL;
  private static final long PIDFD_INFO_SIZE = 64;
  private static final long PIDFD_INFO_CGROUPID = 1L << 2;
  /** The handle type of a kernfs (cgroup) directory: its 64-bit id. */
  private static final int FILEID_KERNFS = 0xfe;
  private static final long SYS_PIDFD_OPEN = 434;

  /**
   * The id of the cgroup v2 the process of {@code pidfd} is in, from the kernel
   * (ioctl PIDFD_GET_INFO, Linux 6.13+): read from the process itself, so no pid and no /proc is
   * involved. Returns the id (positive), or {@code -errno}: ESRCH once the process is reaped,
   * ENOTTY or EINVAL where the kernel has no such ioctl, EOPNOTSUPP if it gave no cgroup.
   */
  public static long pidfdCgroupId(int pidfd) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment capture = arena.allocate(CAPTURE_LAYOUT);
      MemorySegment info = arena.allocate(PIDFD_INFO_SIZE, 8);
      info.set(JAVA_LONG, 0, PIDFD_INFO_CGROUPID);
      long r = syscall(capture, SYS_IOCTL, pidfd, PIDFD_GET_INFO, info.address(), 0, 0, 0);
      if (r < 0) {
        return -errno(capture);
      }
      if ((info.get(JAVA_LONG, 0) & PIDFD_INFO_CGROUPID) == 0) {
        return -Errno.EOPNOTSUPP;
      }
      return info.get(JAVA_LONG, 8);
    }
  }

  /**
   * Opens the cgroup directory with id {@code cgroupId} on the cgroup v2 mount {@code mountFd}
   * (open_by_handle_at(2), which needs CAP_DAC_READ_SEARCH). Returns the descriptor (the caller
   * closes it), or {@code -errno} (ESTALE: no such cgroup any more).
   */
  public static int openCgroupById(int mountFd, long cgroupId) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment capture = arena.allocate(CAPTURE_LAYOUT);
      // struct file_handle { u32 handle_bytes; int handle_type; u64 id; }
      MemorySegment handle = arena.allocate(16, 8);
      handle.set(JAVA_INT, 0, 8);
      handle.set(JAVA_INT, 4, FILEID_KERNFS);
      handle.set(JAVA_LONG, 8, cgroupId);
      long r = syscall(capture, SYS_OPEN_BY_HANDLE_AT, mountFd, handle.address(),
          O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
      return r < 0 ? -errno(capture) : (int) r;
    }
  }

  /** pidfd_open(2) of {@code pid}: a pidfd (the caller closes it), or {@code -errno}. */
  public static int pidfdOpen(long pid) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment capture = arena.allocate(CAPTURE_LAYOUT);
      long r = syscall(capture, SYS_PIDFD_OPEN, pid, 0, 0, 0, 0, 0);
      return r < 0 ? -errno(capture) : (int) r;
    }
  }

  /** A user's uid and primary gid, from the system's user database (NSS). */
  public record PasswdEntry(String name, long uid, long gid) {}

  /** A group's name and gid, from the system's group database (NSS). */
  public record GroupEntry(String name, long gid) {}

  /** Looks a user up by name; empty if there is no such user. */
  public static Optional<PasswdEntry> userByName(String name) throws PosixException {
    return nss("getpwnam_r", PASSWD_SIZE,
        (arena, entry, buf, size, result) -> (int) PwNam.GETPWNAM_R.invokeExact(cString(arena, name), entry, buf, size, result),
        Posix::passwdEntry);
  }

  /** Looks a user up by uid; empty if there is no such user. */
  public static Optional<PasswdEntry> userById(long uid) throws PosixException {
    return nss("getpwuid_r", PASSWD_SIZE,
        (arena, entry, buf, size, result) -> (int) PwUid.GETPWUID_R.invokeExact((int) uid, entry, buf, size, result),
        Posix::passwdEntry);
  }

  /** Looks a group up by name; empty if there is no such group. */
  public static Optional<GroupEntry> groupByName(String name) throws PosixException {
    return nss("getgrnam_r", GROUP_SIZE,
        (arena, entry, buf, size, result) -> (int) GrNam.GETGRNAM_R.invokeExact(cString(arena, name), entry, buf, size, result),
        Posix::groupEntry);
  }

  /** Looks a group up by gid; empty if there is no such group. */
  public static Optional<GroupEntry> groupById(long gid) throws PosixException {
    return nss("getgrgid_r", GROUP_SIZE,
        (arena, entry, buf, size, result) -> (int) GrGid.GETGRGID_R.invokeExact((int) gid, entry, buf, size, result),
        Posix::groupEntry);
  }

  /**
   * The groups the user database gives a user who logs in with primary group {@code gid}
   * (getgrouplist(3)), {@code gid} among them, sorted: the groups such a user's processes have.
   */
  public static long[] groupsOfUser(String name, long gid) {
    int capacity = 64;
    while (true) {
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment groups = arena.allocate(JAVA_INT, capacity);
        MemorySegment count = arena.allocate(JAVA_INT);
        count.set(JAVA_INT, 0, capacity);
        int r = (int) GroupList.GETGROUPLIST.invokeExact(cString(arena, name), (int) gid, groups, count);
        int n = count.get(JAVA_INT, 0);
        if (r >= 0) {
          long[] out = new long[n];
          for (int i = 0; i < n; i++) {
            out[i] = groups.getAtIndex(JAVA_INT, i) & 0xffffffffL;
          }
          java.util.Arrays.sort(out);
          return out;
        }
        capacity = Math.max(capacity * 2, Math.min(n, MAX_GROUPS));
        if (capacity > MAX_GROUPS) {
          throw new IllegalStateException("user " + name + " has more than " + MAX_GROUPS + " groups");
        }
      } catch (RuntimeException | Error e) {
        throw e;
      } catch (Throwable t) {
        throw rethrow(t);
      }
    }
  }

  private static PasswdEntry passwdEntry(MemorySegment pwd) {
    return new PasswdEntry(cStringAt(pwd, PW_NAME),
        pwd.get(JAVA_INT, PW_UID) & 0xffffffffL, pwd.get(JAVA_INT, PW_GID) & 0xffffffffL);
  }

  private static GroupEntry groupEntry(MemorySegment grp) {
    return new GroupEntry(cStringAt(grp, GR_NAME), grp.get(JAVA_INT, GR_GID) & 0xffffffffL);
  }

  private static String cStringAt(MemorySegment struct, long offset) {
    return struct.get(ADDRESS, offset).reinterpret(Long.MAX_VALUE).getString(0);
  }

  /** One of the reentrant getpw*_r / getgr*_r calls: (entry, buffer, size, result) → error number. */
  @FunctionalInterface
  private interface NssCall {
    int call(Arena arena, MemorySegment entry, MemorySegment buf, long size, MemorySegment result) throws Throwable;
  }

  /** Runs an NSS lookup, growing the string buffer while the entry does not fit (ERANGE). */
  private static <T> Optional<T> nss(String name, long entrySize, NssCall call,
      java.util.function.Function<MemorySegment, T> read) throws PosixException {
    for (long bufSize = 4096; ; bufSize *= 4) {
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment entry = arena.allocate(entrySize, 8);
        MemorySegment buf = arena.allocate(bufSize);
        MemorySegment result = arena.allocate(ADDRESS);
        int r = call.call(arena, entry, buf, bufSize, result);
        if (r == Errno.ERANGE && bufSize < MAX_NSS_BUFFER) {
          continue;
        }
        if (isNotFound(r, result)) {
          return Optional.empty();
        }
        if (r != 0) {
          throw new PosixException(name, r);
        }
        return Optional.of(read.apply(entry));
      } catch (PosixException e) {
        throw e;
      } catch (Throwable t) {
        throw rethrow(t);
      }
    }
  }

  /** NSS reports "no such entry" as 0 with a NULL result, or (some modules) ENOENT or ESRCH. */
  private static boolean isNotFound(int r, MemorySegment result) {
    return (r == 0 && result.get(ADDRESS, 0).equals(MemorySegment.NULL))
        || r == Errno.ENOENT || r == ESRCH;
  }

  private static RuntimeException rethrow(Throwable t) {
    if (t instanceof RuntimeException r) {
      throw r;
    }
    if (t instanceof Error e) {
      throw e;
    }
    throw new IllegalStateException("native call failed", t);
  }
}
