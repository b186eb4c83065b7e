package dev.fdbroker.broker.server;

import dev.fdbroker.broker.posix.FileStat;
import dev.fdbroker.protocol.DirEntry;
import dev.fdbroker.protocol.FileResult;
import dev.fdbroker.protocol.FileType;

/** A file's statx as stat and list replies put it: type, size (files only), modification time, mode. */
final class Attributes {
  private Attributes() {}

  static FileResult.Found found(String path, FileStat stat) {
    FileType type = typeOf(stat);
    return new FileResult.Found(path, type, sizeOf(type, stat), stat.mtimeNs(), stat.permissions());
  }

  static DirEntry entry(String name, FileStat stat) {
    FileType type = typeOf(stat);
    return new DirEntry(name, type, sizeOf(type, stat), stat.mtimeNs(), stat.permissions());
  }

  static FileType typeOf(FileStat stat) {
    if (stat.isRegularFile()) {
      return FileType.FILE;
    } else if (stat.isDirectory()) {
      return FileType.DIRECTORY;
    } else if (stat.isSymlink()) {
      return FileType.SYMLINK;
    }
    return FileType.OTHER;
  }

  /** Only a file's size means something to a reader; a directory's is the filesystem's own business. */
  private static long sizeOf(FileType type, FileStat stat) {
    return type == FileType.FILE ? stat.size() : FileResult.UNKNOWN;
  }
}
