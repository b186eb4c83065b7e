package dev.fdbroker.client;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.util.Iterator;
import java.util.List;

/**
 * The results of {@link FdBrokerClient#openAll}, one per requested path in request order. Closing
 * the batch closes every granted file not {@linkplain #take taken} out of it.
 */
public final class OpenBatch implements AutoCloseable, Iterable<OpenResult> {
  private final List<OpenResult> results;
  private final boolean[] taken;

  OpenBatch(List<OpenResult> results) {
    this.results = List.copyOf(results);
    this.taken = new boolean[results.size()];
  }

  /** All results, in request order. */
  public List<OpenResult> results() {
    return results;
  }

  public int size() {
    return results.size();
  }

  /** The result for the i-th requested path. */
  public OpenResult get(int i) {
    return results.get(i);
  }

  /**
   * The i-th file, whose ownership passes to the caller (closing the batch will not close it); or
   * the refusal as an exception.
   */
  public synchronized BrokeredFile take(int i) throws FileSystemException {
    BrokeredFile file = results.get(i).file();
    taken[i] = true;
    return file;
  }

  @Override
  public Iterator<OpenResult> iterator() {
    return results.iterator();
  }

  @Override
  public synchronized void close() throws IOException {
    IOException first = null;
    for (int i = 0; i < results.size(); i++) {
      OpenResult r = results.get(i);
      if (!taken[i] && r instanceof OpenResult.Granted) {
        taken[i] = true;
        try {
          ((OpenResult.Granted) r).brokeredFile().close();
        } catch (IOException e) {
          if (first == null) {
            first = e;
          }
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
