package dev.fdbroker.client;

import dev.fdbroker.protocol.DirEntry;
import dev.fdbroker.protocol.FileResult;
import dev.fdbroker.protocol.FileType;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Objects;

/**
 * What the broker says a path is, from {@link FdBrokerClient#stat} or an entry of {@link
 * FdBrokerClient#list}: a snapshot, taken by the broker with {@code statx} of the path itself. A
 * symbolic link is described as itself ({@link FileType#SYMLINK}), never followed.
 *
 * @param path the path as it was asked for; for a listed entry, the listed directory's path, a
 *     {@code /}, and the entry's name
 * @param type a file, a directory, a symbolic link, or other (FIFO, socket, device)
 * @param size the size in bytes of a regular file; 0 for the other types, whose size the broker
 *     does not say
 * @param lastModified when the file was last modified, to the nanosecond; the epoch if the broker
 *     did not say (one that serves stat and list always does)
 * @param mode the permission bits ({@code st_mode & 07777}, 0644 being 420), or -1 if the broker
 *     did not say
 */
public record FileStat(String path, FileType type, long size, FileTime lastModified, int mode) {

  /** Checks that nothing is null. */
  public FileStat {
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(lastModified, "lastModified");
  }

  /** The entry's name: what follows the path's last {@code /}. */
  public String name() {
    return path.substring(path.lastIndexOf('/') + 1);
  }

  /** A regular file: the only type the broker opens. */
  public boolean isRegularFile() {
    return type == FileType.FILE;
  }

  /** A directory, which {@link FdBrokerClient#list} lists. */
  public boolean isDirectory() {
    return type == FileType.DIRECTORY;
  }

  /** A symbolic link: described as itself, never followed, never opened. */
  public boolean isSymbolicLink() {
    return type == FileType.SYMLINK;
  }

  /** A FIFO, socket or device: described, never opened. */
  public boolean isOther() {
    return type == FileType.OTHER;
  }

  static FileStat of(FileResult.Found found) {
    return of(found.path(), found.type(), found.size(), found.mtimeNs(), found.mode());
  }

  /** An entry of the listing of {@code directory}, which is as it was sent to the broker. */
  static FileStat of(String directory, DirEntry entry) {
    String path = directory.equals("/") ? "/" + entry.name() : directory + "/" + entry.name();
    return of(path, entry.type(), entry.size(), entry.mtimeNs(), entry.mode());
  }

  private static FileStat of(String path, FileType type, long size, long mtimeNs, int mode) {
    long bytes = type == FileType.FILE && size > 0 ? size : 0;
    return new FileStat(path, type, bytes, fileTime(mtimeNs), mode);
  }

  /** A time in nanoseconds since the epoch; {@link FileResult#UNKNOWN} is the epoch itself. */
  static FileTime fileTime(long mtimeNs) {
    if (mtimeNs == FileResult.UNKNOWN) {
      return FileTime.from(Instant.EPOCH);
    }
    return FileTime.from(Instant.ofEpochSecond(Math.floorDiv(mtimeNs, 1_000_000_000L),
        Math.floorMod(mtimeNs, 1_000_000_000L)));
  }
}
