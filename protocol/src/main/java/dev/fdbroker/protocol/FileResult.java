package dev.fdbroker.protocol;

/** The outcome for one path of an open request, in the order the paths were asked for. */
public sealed interface FileResult permits FileResult.Granted, FileResult.Refused {

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
    public static final int UNKNOWN = -1;

    /** A grant with no modification time or mode (as older brokers replied). */
    public Granted(String path, int fd, long size) {
      this(path, fd, size, UNKNOWN, UNKNOWN);
    }
  }

  /** The file was not opened, for the reason given. */
  record Refused(String path, ErrorCode error, String message) implements FileResult {}
}
