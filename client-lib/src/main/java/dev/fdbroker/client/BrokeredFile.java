package dev.fdbroker.client;

import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;

/**
 * A file the broker opened for this process, read-only. The descriptor belongs to this object:
 * close it when done (try-with-resources). It stays valid after the {@link FdBrokerClient} that
 * fetched it is closed.
 *
 * <p>{@link #channel()} and {@link #inputStream()} are two views of one open file and share its
 * position. Writing is impossible: the broker opened the file with {@code O_RDONLY}, so the channel
 * throws {@link java.nio.channels.NonWritableChannelException} and the kernel refuses any write
 * with {@code EBADF}.
 */
public final class BrokeredFile implements Closeable {
  private final String path;
  private final long size;
  private final long mtimeNs;
  private final int mode;
  private final FileInputStream stream;

  BrokeredFile(String path, long size, long mtimeNs, int mode, FileDescriptor descriptor) {
    this.path = path;
    this.size = size;
    this.mtimeNs = mtimeNs;
    this.mode = mode;
    this.stream = new FileInputStream(descriptor);
  }

  /** The path as it was requested. */
  public String path() {
    return path;
  }

  /** The file's size in bytes when the broker opened it. */
  public long size() {
    return size;
  }

  /**
   * When the file was last modified, as the broker saw it when it opened the file; empty from a
   * broker that does not say. (Java cannot fstat a descriptor, so this is the way to know.)
   */
  public java.util.Optional<java.nio.file.attribute.FileTime> lastModified() {
    return mtimeNs == dev.fdbroker.protocol.FileResult.Granted.UNKNOWN ? java.util.Optional.empty()
        : java.util.Optional.of(FileStat.fileTime(mtimeNs));
  }

  /**
   * The file's permission bits (for example {@code 0644}) when the broker opened it, or -1 from a
   * broker that does not say.
   */
  public int mode() {
    return mode;
  }

  /** A read-only channel on the file. Supports positional reads and {@code map(READ_ONLY, ...)}. */
  public FileChannel channel() {
    return stream.getChannel();
  }

  /** A stream over the file, sharing its position with {@link #channel()}. */
  public InputStream inputStream() {
    return stream;
  }

  /** The underlying descriptor, e.g. to hand to native code. Owned by this object. */
  public FileDescriptor fileDescriptor() throws IOException {
    return stream.getFD();
  }

  /** Reads the whole file from the current position. */
  public byte[] readAllBytes() throws IOException {
    return stream.readAllBytes();
  }

  @Override
  public void close() throws IOException {
    stream.close();
  }

  @Override
  public String toString() {
    return "BrokeredFile[" + path + ", " + size + " bytes]";
  }
}
