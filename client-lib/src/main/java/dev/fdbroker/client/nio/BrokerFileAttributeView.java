package dev.fdbroker.client.nio;

import java.io.IOException;
import java.nio.file.ReadOnlyFileSystemException;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;

/** The "basic" view of a path: its attributes read from the broker; never set. */
final class BrokerFileAttributeView implements BasicFileAttributeView {
  private final BrokerPath path;

  BrokerFileAttributeView(BrokerPath path) {
    this.path = path;
  }

  @Override
  public String name() {
    return "basic";
  }

  @Override
  public BrokerFileAttributes readAttributes() throws IOException {
    return new BrokerFileAttributes(path.getFileSystem().attributes(path));
  }

  /** Always {@link ReadOnlyFileSystemException}. */
  @Override
  public void setTimes(FileTime lastModifiedTime, FileTime lastAccessTime, FileTime createTime) {
    throw new ReadOnlyFileSystemException();
  }
}
