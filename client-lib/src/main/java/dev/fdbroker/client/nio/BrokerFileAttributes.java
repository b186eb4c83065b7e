package dev.fdbroker.client.nio;

import dev.fdbroker.client.FileStat;
import dev.fdbroker.protocol.FileType;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;

/**
 * A file's attributes as the broker gave them ({@link FileStat}), read with {@code
 * Files.readAttributes(path, BasicFileAttributes.class)} or, for the permission bits too, {@code
 * Files.readAttributes(path, BrokerFileAttributes.class)}.
 *
 * <p>A symbolic link is described as itself whether or not links are to be followed (the broker
 * never follows one): {@link #isSymbolicLink()} is true, {@link #isRegularFile()} and {@link
 * #isDirectory()} false. The broker tells only when a file was last modified, so that time stands
 * for the last access and the creation too, as java.nio suggests; it tells the size of regular
 * files only, and other types have size 0. There is no file key.
 */
public final class BrokerFileAttributes implements BasicFileAttributes {
  private final FileStat stat;

  BrokerFileAttributes(FileStat stat) {
    this.stat = stat;
  }

  /** Everything the broker said, as client-lib's own type. */
  public FileStat fileStat() {
    return stat;
  }

  /** A file, a directory, a symbolic link, or other. */
  public FileType type() {
    return stat.type();
  }

  /** The permission bits ({@code st_mode & 07777}), or -1 if the broker did not say. */
  public int mode() {
    return stat.mode();
  }

  @Override
  public FileTime lastModifiedTime() {
    return stat.lastModified();
  }

  /** The last modification: the broker does not tell the last access. */
  @Override
  public FileTime lastAccessTime() {
    return stat.lastModified();
  }

  /** The last modification: the broker does not tell the creation. */
  @Override
  public FileTime creationTime() {
    return stat.lastModified();
  }

  @Override
  public boolean isRegularFile() {
    return stat.isRegularFile();
  }

  @Override
  public boolean isDirectory() {
    return stat.isDirectory();
  }

  @Override
  public boolean isSymbolicLink() {
    return stat.isSymbolicLink();
  }

  @Override
  public boolean isOther() {
    return stat.isOther();
  }

  @Override
  public long size() {
    return stat.size();
  }

  /** None: the broker does not say which inode a path is. */
  @Override
  public Object fileKey() {
    return null;
  }

  @Override
  public String toString() {
    return "BrokerFileAttributes[" + stat + "]";
  }
}
