package dev.fdbroker.client.nio;

import dev.fdbroker.client.BrokeredFile;
import dev.fdbroker.client.DirectoryListing;
import dev.fdbroker.client.FdBrokerClient;
import dev.fdbroker.client.FileStat;
import java.io.IOException;
import java.nio.file.ClosedFileSystemException;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.WatchService;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;

/**
 * The files a broker lets this process see, read-only, as a java.nio {@link FileSystem}. Every
 * question about a file is a request to the broker through the {@link FdBrokerClient}: {@link
 * #attributes} a {@code stat}, {@link #open} an {@code open}, {@link #list} a {@code list}.
 *
 * <p>Attributes that came with a directory listing stand in for a {@code stat} of the entry for
 * {@link #LISTED_ATTRIBUTES_FRESH_FOR_NANOS} after the listing, so that walking a tree costs a
 * request per page of each directory rather than one per file.
 */
final class BrokerFileSystem extends FileSystem {
  /** How long a listing's attributes of an entry are taken for the entry's: one second. */
  static final long LISTED_ATTRIBUTES_FRESH_FOR_NANOS = TimeUnit.SECONDS.toNanos(1);

  /** What closing a file system does besides marking it closed. */
  @FunctionalInterface
  interface Closer {
    void closed(BrokerFileSystem fs) throws IOException;
  }

  private final BrokerFileSystemProvider provider;
  private final FdBrokerClient client;
  private final Closer closer;
  private final LongSupplier nanoClock;
  private final BrokerPath root;
  private final BrokerPath empty;
  private final BrokerFileStore store;
  private volatile boolean open = true;

  BrokerFileSystem(BrokerFileSystemProvider provider, FdBrokerClient client, Closer closer, LongSupplier nanoClock) {
    this.provider = provider;
    this.client = client;
    this.closer = closer;
    this.nanoClock = nanoClock;
    this.root = BrokerPath.parse(this, "/");
    this.empty = BrokerPath.parse(this, "");
    this.store = new BrokerFileStore(this);
  }

  FdBrokerClient client() {
    return client;
  }

  Path socket() {
    return client.socket();
  }

  BrokerPath root() {
    return root;
  }

  BrokerPath emptyPath() {
    return empty;
  }

  BrokerFileStore store() {
    return store;
  }

  /** Now, by the clock that dates listings. */
  long nanoTime() {
    return nanoClock.getAsLong();
  }

  /**
   * What the broker says {@code path} is: the listing's attributes if it came from one within the
   * last second, else a {@code stat}.
   */
  FileStat attributes(BrokerPath path) throws IOException {
    ensureOpen();
    FileStat listed = path.listed();
    if (listed != null && nanoTime() - path.listedAtNanos() < LISTED_ATTRIBUTES_FRESH_FOR_NANOS) {
      return listed;
    }
    return client.stat(path.brokerPath());
  }

  /** The file at {@code path}, opened read-only by the broker. */
  BrokeredFile open(BrokerPath path) throws IOException {
    ensureOpen();
    return client.open(path.brokerPath());
  }

  /** The directory at {@code path}, its first page listed. */
  DirectoryListing list(BrokerPath path) throws IOException {
    ensureOpen();
    return client.list(path.brokerPath());
  }

  void ensureOpen() {
    if (!open) {
      throw new ClosedFileSystemException();
    }
  }

  @Override
  public BrokerFileSystemProvider provider() {
    return provider;
  }

  /** Closes this file system (and, for one opened by URI, its client). Paths stay usable as values. */
  @Override
  public void close() throws IOException {
    synchronized (this) {
      if (!open) {
        return;
      }
      open = false;
    }
    closer.closed(this);
  }

  @Override
  public boolean isOpen() {
    return open;
  }

  /** Always: the broker opens files for reading only. */
  @Override
  public boolean isReadOnly() {
    return true;
  }

  @Override
  public String getSeparator() {
    return "/";
  }

  @Override
  public Iterable<Path> getRootDirectories() {
    return List.of(root);
  }

  @Override
  public Iterable<FileStore> getFileStores() {
    return List.of(store);
  }

  @Override
  public Set<String> supportedFileAttributeViews() {
    return Set.of("basic");
  }

  @Override
  public BrokerPath getPath(String first, String... more) {
    if (more.length == 0) {
      return BrokerPath.parse(this, first);
    }
    StringBuilder sb = new StringBuilder(first);
    for (String segment : more) {
      if (!segment.isEmpty()) {
        if (sb.length() > 0) {
          sb.append('/');
        }
        sb.append(segment);
      }
    }
    return BrokerPath.parse(this, sb.toString());
  }

  /** {@code glob:} (see {@link Glob}) or {@code regex:}, matched against the path's text. */
  @Override
  public PathMatcher getPathMatcher(String syntaxAndPattern) {
    int colon = syntaxAndPattern.indexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("expected glob:PATTERN or regex:PATTERN, got " + syntaxAndPattern);
    }
    String syntax = syntaxAndPattern.substring(0, colon);
    String pattern = syntaxAndPattern.substring(colon + 1);
    String regex;
    if (syntax.equalsIgnoreCase("glob")) {
      regex = Glob.toRegex(pattern);
    } else if (syntax.equalsIgnoreCase("regex")) {
      regex = pattern;
    } else {
      throw new UnsupportedOperationException("Syntax '" + syntax + "' not recognized");
    }
    Pattern compiled = Pattern.compile(regex);
    return p -> compiled.matcher(p.toString()).matches();
  }

  @Override
  public UserPrincipalLookupService getUserPrincipalLookupService() {
    throw new UnsupportedOperationException("the broker does not say who owns a file");
  }

  @Override
  public WatchService newWatchService() {
    throw new UnsupportedOperationException("fdbroker paths cannot be watched");
  }

  @Override
  public String toString() {
    return BrokerUris.SCHEME + ":" + socket();
  }
}
