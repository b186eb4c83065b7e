package dev.fdbroker.protocol;

/** The outcome for one path of an open request, in the order the paths were asked for. */
public sealed interface FileResult permits FileResult.Granted, FileResult.Refused {

  String path();

  /**
   * The file was opened read-only; its descriptor travels with the reply frame.
   *
   * @param fd the descriptor's index among the descriptors carried by the reply frame
   * @param size the file's size in bytes when it was opened
   */
  record Granted(String path, int fd, long size) implements FileResult {}

  /** The file was not opened, for the reason given. */
  record Refused(String path, ErrorCode error, String message) implements FileResult {}
}
