package dev.fdbroker.client.nio;

import java.nio.file.FileStore;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.attribute.FileStoreAttributeView;

/**
 * The one store of a broker's file system: read-only, named after the broker's socket. The broker
 * does not tell the space of the file systems behind it, so every space is 0 (none of it usable to
 * this process anyway).
 */
final class BrokerFileStore extends FileStore {
  private final BrokerFileSystem fs;

  BrokerFileStore(BrokerFileSystem fs) {
    this.fs = fs;
  }

  @Override
  public String name() {
    return fs.socket().toString();
  }

  @Override
  public String type() {
    return BrokerUris.SCHEME;
  }

  @Override
  public boolean isReadOnly() {
    return true;
  }

  @Override
  public long getTotalSpace() {
    return 0;
  }

  @Override
  public long getUsableSpace() {
    return 0;
  }

  @Override
  public long getUnallocatedSpace() {
    return 0;
  }

  @Override
  public boolean supportsFileAttributeView(Class<? extends FileAttributeView> type) {
    return type == BasicFileAttributeView.class;
  }

  @Override
  public boolean supportsFileAttributeView(String name) {
    return name.equals("basic");
  }

  @Override
  public <V extends FileStoreAttributeView> V getFileStoreAttributeView(Class<V> type) {
    return null;
  }

  @Override
  public Object getAttribute(String attribute) {
    throw new UnsupportedOperationException("'" + attribute + "' not recognized");
  }

  @Override
  public String toString() {
    return name() + " (" + type() + ", read-only)";
  }
}
