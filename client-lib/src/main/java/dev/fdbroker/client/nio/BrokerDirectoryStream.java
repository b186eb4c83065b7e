package dev.fdbroker.client.nio;

import dev.fdbroker.client.DirectoryListing;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * A directory's entries, each {@code dir.resolve(name)} carrying the attributes its listing gave
 * ({@link BrokerPath#listedChild}). Pages are fetched as the iterator reaches them; a page that
 * cannot be fetched, or a filter that fails, is a {@link DirectoryIteratorException}. Nothing is
 * held open between pages, so closing only ends the iteration.
 */
final class BrokerDirectoryStream implements DirectoryStream<Path> {
  private final BrokerPath dir;
  private final DirectoryListing listing;
  private final Filter<? super Path> filter;
  private volatile boolean closed;
  private boolean iterated;

  BrokerDirectoryStream(BrokerPath dir, DirectoryListing listing, Filter<? super Path> filter) {
    this.dir = dir;
    this.listing = listing;
    this.filter = filter;
  }

  /** The one iterator: a second call, or one after {@link #close}, is an {@link IllegalStateException}. */
  @Override
  public synchronized Iterator<Path> iterator() {
    if (closed) {
      throw new IllegalStateException("directory stream is closed");
    }
    if (iterated) {
      throw new IllegalStateException("iterator already obtained");
    }
    iterated = true;
    return new Entries();
  }

  @Override
  public void close() {
    closed = true;
  }

  private final class Entries implements Iterator<Path> {
    private Path next;

    @Override
    public boolean hasNext() {
      while (next == null && !closed && more()) {
        BrokerPath entry = dir.listedChild(listing.next(), dir.getFileSystem().nanoTime());
        try {
          if (filter == null || filter.accept(entry)) {
            next = entry;
          }
        } catch (IOException e) {
          throw new DirectoryIteratorException(e);
        }
      }
      return next != null;
    }

    private boolean more() {
      try {
        return listing.hasNext();
      } catch (UncheckedIOException e) {
        throw new DirectoryIteratorException(e.getCause());
      }
    }

    @Override
    public Path next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      Path entry = next;
      next = null;
      return entry;
    }
  }
}
