package dev.fdbroker.broker.audit;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Where audit lines go: the broker's stderr (the journal, under systemd) or a file it appends to.
 * Written only by {@link BatchingWriter}, in whole batches, under its lock; a failure is an
 * exception, so that the writer can count the records it lost.
 *
 * <p>Not logback's appenders, as before: its file appender refused to open a file another
 * appender of the same context still held (so a reload, which opened the new one before closing
 * the old, stopped the audit on every other reload), and its resilient stream silently discards
 * what is written while it considers the file broken. The audit needs every lost record counted.
 */
abstract class AuditTarget {

  /** Stderr for null, else the file. */
  static AuditTarget of(Path file) {
    return file == null ? new Stderr() : new AppendedFile(file);
  }

  /** Opens the target (again, after a failure); throws if it cannot be. */
  abstract void open() throws IOException;

  /** Writes {@code length} bytes of {@code bytes}, all or fail. */
  abstract void write(byte[] bytes, int length) throws IOException;

  /** Closes the target; never throws. */
  abstract void close();

  /** For messages: "stderr" or the file's path. */
  abstract String name();

  /**
   * The process's stderr, through {@code System.err}: the operational log writes its lines there
   * too, and sharing the stream's lock keeps a batch from landing inside one of its lines.
   */
  static final class Stderr extends AuditTarget {
    @Override
    void open() {}

    @Override
    void write(byte[] bytes, int length) throws IOException {
      System.err.write(bytes, 0, length);
      System.err.flush();
      // PrintStream swallows write errors; its error flag stays set once one happened (for
      // stderr, that is a journal stream gone for good).
      if (System.err.checkError()) {
        throw new IOException("writing to stderr failed");
      }
    }

    @Override
    void close() {}

    @Override
    String name() {
      return "stderr";
    }
  }

  /**
   * A file, opened for appending and created if missing, with any missing directories above it
   * (with the process's umask: 0077 under the unit, so only the broker's user reads them). Opened afresh by each {@link #open}, so that a
   * reload after log rotation (rename, then reload) starts a new file.
   */
  static final class AppendedFile extends AuditTarget {
    private final Path path;
    private FileChannel channel;

    AppendedFile(Path path) {
      this.path = path;
    }

    @Override
    void open() throws IOException {
      close();
      Path parent = path.getParent();
      if (parent != null) {
        java.nio.file.Files.createDirectories(parent); // as logback did: audit/ under the logs directory, say
      }
      channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    }

    @Override
    void write(byte[] bytes, int length) throws IOException {
      if (channel == null) {
        throw new IOException("not open");
      }
      ByteBuffer b = ByteBuffer.wrap(bytes, 0, length);
      while (b.hasRemaining()) {
        channel.write(b);
      }
    }

    @Override
    void close() {
      if (channel != null) {
        try {
          channel.close();
        } catch (IOException e) {
          // closing anyway
        }
        channel = null;
      }
    }

    @Override
    String name() {
      return path.toString();
    }
  }
}
