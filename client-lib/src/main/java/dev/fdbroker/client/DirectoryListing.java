package dev.fdbroker.client;

import dev.fdbroker.protocol.DirEntry;
import dev.fdbroker.protocol.Reply;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * The entries of a directory that the caller may see, from {@link FdBrokerClient#list}, fetched a
 * page at a time as they are iterated. Each page is one request, on whichever pooled connection is
 * free, retried as any request is; nothing is held between pages, neither here nor in the broker,
 * so a listing left half-read costs nothing and needs no closing.
 *
 * <p>Entries come in the directory's own order, without {@code .} and {@code ..}. A directory
 * changed while it is listed may show an entry twice or not at all, as {@code readdir} may.
 *
 * <p>The first page is fetched by {@link FdBrokerClient#list}, so a directory that cannot be listed
 * fails there, with a checked exception. A later page that cannot be fetched (the broker gone for
 * longer than the request timeout, the directory removed meanwhile) makes {@link #hasNext} throw
 * {@link UncheckedIOException}, as {@link java.nio.file.Files#list} does.
 *
 * <p>Used by one thread at a time.
 */
public final class DirectoryListing implements Iterator<FileStat> {
  private final FdBrokerClient client;
  private final String directory;
  private List<DirEntry> page;
  private int next;
  /** Where the next page starts; null once the last page has come. */
  private String cursor;
  private int pages;

  DirectoryListing(FdBrokerClient client, String directory, Reply.Listed first) {
    this.client = client;
    this.directory = directory;
    take(first);
  }

  /** The directory, as it was asked for. */
  public String directory() {
    return directory;
  }

  /** Pages fetched so far, the first included. */
  public int pagesFetched() {
    return pages;
  }

  /**
   * Whether another entry follows, asking the broker for the next page when this one is used up
   * (pages may be short, even empty, before the end).
   *
   * @throws UncheckedIOException the next page could not be fetched
   */
  @Override
  public boolean hasNext() {
    while (next == page.size()) {
      if (cursor == null) {
        return false;
      }
      try {
        take(client.listPage(directory, cursor));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return true;
  }

  /** @throws UncheckedIOException the next page could not be fetched */
  @Override
  public FileStat next() {
    if (!hasNext()) {
      throw new NoSuchElementException("no more entries in " + directory);
    }
    return FileStat.of(directory, page.get(next++));
  }

  /** The entries not yet iterated, as a lazy sequential stream. */
  public Stream<FileStat> stream() {
    return StreamSupport.stream(
        Spliterators.spliteratorUnknownSize(this, Spliterator.ORDERED | Spliterator.NONNULL), false);
  }

  private void take(Reply.Listed listed) {
    page = listed.entries();
    next = 0;
    cursor = listed.cursor();
    pages++;
  }
}
