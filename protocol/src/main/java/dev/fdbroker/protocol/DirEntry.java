package dev.fdbroker.protocol;

/**
 * One entry of a directory listing.
 *
 * @param name the entry's name within the directory: never empty, ".", ".." or containing '/' or NUL
 * @param size the size in bytes of a {@link FileType#FILE}; {@link FileResult#UNKNOWN} for other types
 * @param mtimeNs last modification, nanoseconds since the epoch
 * @param mode permission bits ({@code st_mode & 07777})
 */
public record DirEntry(String name, FileType type, long size, long mtimeNs, int mode) {

  /** Why {@code name} cannot be a directory entry's name, or null if it can. */
  public static String nameProblem(String name) {
    if (name.isEmpty() || name.equals(".") || name.equals("..")) {
      return "an entry name may not be empty, \".\" or \"..\"";
    }
    if (name.indexOf('/') >= 0 || name.indexOf('\0') >= 0) {
      return "an entry name may not contain '/' or NUL";
    }
    return null;
  }
}
