package dev.fdbroker.protocol;

/**
 * The outcome for one path of an open or stat request, in the order the paths were asked for: an
 * open answers {@link Granted} or {@link Refused}, a stat {@link Found} or {@link Refused}.
 */
public sealed interface FileResult permits FileResult.Granted, FileResult.Found, FileResult.Refused {

  /** A number the broker did not say (older brokers, or one that does not apply to the type). */
  int UNKNOWN = -1;

  String path();

  /**
   * The file was opened read-only; its descriptor travels with the reply frame.
   *
   * @param fd the descriptor's index among the descriptors carried by the reply frame
   * @param size the file's size in bytes when it was opened
   * @param mtimeNs its last modification, nanoseconds since the epoch; {@link #UNKNOWN} from a
   *     broker that does not say
   * @param mode its permission bits (st_mode &amp; 07777); {@link #UNKNOWN} from a broker that does
   *     not say
   */
  record Granted(String path, int fd, long size, long mtimeNs, int mode) implements FileResult {
    /** What a reply without {@code mtime_ns} or {@code mode} leaves them as. */
    public static final int UNKNOWN = FileResult.UNKNOWN;

    /** A grant with no modification time or mode (as older brokers replied). */
    public Granted(String path, int fd, long size) {
      this(path, fd, size, UNKNOWN, UNKNOWN);
    }
  }

  /**
   * What a stat found at the path (which is never followed if it is a symbolic link).
   *
   * @param size the size in bytes of a {@link FileType#FILE}; {@link #UNKNOWN} for other types
   * @param mtimeNs last modification, nanoseconds since the epoch
   * @param mode permission bits ({@code st_mode & 07777})
   */
  record Found(String path, FileType type, long size, long mtimeNs, int mode) implements FileResult {}

  /** The file was not opened or described, for the reason given. */
  record Refused(String path, ErrorCode error, String message) implements FileResult {}
}
