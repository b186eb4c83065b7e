package dev.fdbroker.broker.posix;

/**
 * What the broker needs to know of an open file (from statx).
 *
 * @param owner the file's owner (uid)
 * @param mtimeNs the last modification, in nanoseconds since the epoch
 */
public record FileStat(int mode, long size, long inode, long device, int nlink, long owner, long mtimeNs) {
  public static final int S_IFMT = 0170000;
  public static final int S_IFREG = 0100000;
  public static final int S_IFDIR = 0040000;
  public static final int S_IFLNK = 0120000;
  public static final int S_IFIFO = 0010000;
  public static final int S_IFSOCK = 0140000;
  public static final int S_IFCHR = 0020000;
  public static final int S_IFBLK = 0060000;

  /** The permission bits (set-id, sticky, and rwx for owner, group, others). */
  public int permissions() {
    return mode & 07777;
  }

  public int type() {
    return mode & S_IFMT;
  }

  public boolean isRegularFile() {
    return type() == S_IFREG;
  }

  public boolean isDirectory() {
    return type() == S_IFDIR;
  }

  public boolean isSymlink() {
    return type() == S_IFLNK;
  }

  /** What kind of file this is, in words, for refusal messages. */
  public String typeName() {
    return switch (type()) {
      case S_IFREG -> "a regular file";
      case S_IFDIR -> "a directory";
      case S_IFLNK -> "a symbolic link";
      case S_IFIFO -> "a FIFO";
      case S_IFSOCK -> "a socket";
      case S_IFCHR -> "a character device";
      case S_IFBLK -> "a block device";
      default -> "an unknown kind of file";
    };
  }
}
