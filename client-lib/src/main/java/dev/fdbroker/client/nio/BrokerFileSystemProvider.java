package dev.fdbroker.client.nio;

import dev.fdbroker.client.FdBrokerClient;
import dev.fdbroker.client.FileStat;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.AccessMode;
import java.nio.file.CopyOption;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.LinkOption;
import java.nio.file.NotLinkException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.ReadOnlyFileSystemException;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.spi.FileSystemProvider;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@code fdbroker} scheme: read-only file systems over fdbroker, one per broker socket.
 *
 * <pre>{@code
 * try (FileSystem fs = FileSystems.newFileSystem(URI.create("fdbroker:/run/fdbroker/fdbroker.sock"), Map.of())) {
 *   byte[] logo = Files.readAllBytes(fs.getPath("/srv/assets/logo.png"));
 * }
 * }</pre>
 *
 * <p>{@link #newFileSystem(URI, Map)} connects a client of its own to the socket that the URI's
 * path names (failing there if the broker cannot be reached), and keeps the file system until it is
 * closed: meanwhile {@link #getFileSystem(URI)} finds it, {@link #getPath(URI)} makes paths in it
 * from their {@link Path#toUri() URIs}, and opening a second one on the same socket is a {@link
 * FileSystemAlreadyExistsException}. Closing it closes its client. The environment may set the
 * client's {@code "connectTimeout"} and {@code "requestTimeout"} (a {@link java.time.Duration}, a
 * number of milliseconds, or text such as {@code "PT5S"}) and {@code "maxConnections"}.
 *
 * <p>{@link FdBrokerClient#fileSystem()} makes a file system over a client of the caller's instead;
 * that one is not found by URI.
 *
 * <p>This provider is registered with {@link java.util.ServiceLoader} (in {@code
 * META-INF/services}), so that {@link java.nio.file.FileSystems} and {@link Path#of(URI)} find it.
 */
public final class BrokerFileSystemProvider extends FileSystemProvider {
  /** File systems opened by URI and not yet closed, by socket; shared by every instance. */
  private static final Map<Path, BrokerFileSystem> OPENED = new ConcurrentHashMap<>();
  /** The provider of file systems made over a caller's client. */
  private static final BrokerFileSystemProvider FOR_CLIENTS = new BrokerFileSystemProvider();

  /** For {@link java.util.ServiceLoader}; every instance sees the same file systems. */
  public BrokerFileSystemProvider() {}

  /**
   * A read-only file system over {@code client}, which stays the caller's: closing the file
   * system does not close it. {@link FdBrokerClient#fileSystem()} is the usual way to get one.
   */
  public static FileSystem forClient(FdBrokerClient client) {
    return new BrokerFileSystem(FOR_CLIENTS, client, fs -> { }, System::nanoTime);
  }

  /** "fdbroker". */
  @Override
  public String getScheme() {
    return BrokerUris.SCHEME;
  }

  /**
   * Connects to the broker whose socket the URI's path names, {@code fdbroker:/path/to/socket}.
   *
   * @throws FileSystemAlreadyExistsException one is open for that socket
   * @throws IllegalArgumentException the URI or the environment is not one this provider takes
   * @throws IOException the broker cannot be reached (see {@link FdBrokerClient.Builder#connect()})
   */
  @Override
  public FileSystem newFileSystem(URI uri, Map<String, ?> env) throws IOException {
    Path socket = BrokerUris.socket(uri);
    FdBrokerClient.Builder builder = ClientSettings.apply(FdBrokerClient.builder(socket), env);
    if (OPENED.containsKey(socket)) {
      throw new FileSystemAlreadyExistsException(socket.toString());
    }
    FdBrokerClient client = builder.connect();
    BrokerFileSystem fs = new BrokerFileSystem(this, client, closed -> {
      OPENED.remove(socket, closed);
      closed.client().close();
    }, System::nanoTime);
    if (OPENED.putIfAbsent(socket, fs) != null) {
      client.close();
      throw new FileSystemAlreadyExistsException(socket.toString());
    }
    return fs;
  }

  /** The open file system that {@link #newFileSystem(URI, Map)} made for the URI's socket. */
  @Override
  public FileSystem getFileSystem(URI uri) {
    return opened(uri);
  }

  /** The path of a {@code fdbroker:SOCKET!PATH} URI, in the open file system of that socket. */
  @Override
  public Path getPath(URI uri) {
    String path = BrokerUris.path(uri);
    return opened(uri).getPath(path);
  }

  private static BrokerFileSystem opened(URI uri) {
    Path socket = BrokerUris.socket(uri);
    BrokerFileSystem fs = OPENED.get(socket);
    if (fs == null) {
      throw new FileSystemNotFoundException("no fdbroker file system is open for " + socket);
    }
    return fs;
  }

  /**
   * The file, opened read-only by the broker: a {@link FileChannel} over the descriptor it passed,
   * so {@code map(READ_ONLY, ...)} works. See {@link OpenOptions} for the options.
   */
  @Override
  public SeekableByteChannel newByteChannel(Path path, Set<? extends OpenOption> options,
      FileAttribute<?>... attrs) throws IOException {
    return newFileChannel(path, options, attrs);
  }

  /** As {@link #newByteChannel}. */
  @Override
  public FileChannel newFileChannel(Path path, Set<? extends OpenOption> options,
      FileAttribute<?>... attrs) throws IOException {
    BrokerPath p = BrokerPath.of(path);
    OpenOptions.checkReadOnly(options);
    return p.getFileSystem().open(p).channel();
  }

  /** The file, opened read-only by the broker, as a stream over the descriptor it passed. */
  @Override
  public InputStream newInputStream(Path path, OpenOption... options) throws IOException {
    BrokerPath p = BrokerPath.of(path);
    OpenOptions.checkReadOnly(options);
    return p.getFileSystem().open(p).inputStream();
  }

  /** Always {@link ReadOnlyFileSystemException}. */
  @Override
  public OutputStream newOutputStream(Path path, OpenOption... options) {
    BrokerPath.of(path);
    throw new ReadOnlyFileSystemException();
  }

  /**
   * The directory's entries that the broker lets this process see, in the directory's order,
   * fetched a page at a time; each entry carries the attributes the listing gave. The first page
   * is asked for now, so a path that cannot be listed fails here: {@link
   * java.nio.file.NotDirectoryException} for one that is not a directory.
   */
  @Override
  public DirectoryStream<Path> newDirectoryStream(Path dir, DirectoryStream.Filter<? super Path> filter)
      throws IOException {
    BrokerPath p = BrokerPath.of(dir);
    return new BrokerDirectoryStream(p, p.getFileSystem().list(p), filter);
  }

  /** Always {@link ReadOnlyFileSystemException}. */
  @Override
  public void createDirectory(Path dir, FileAttribute<?>... attrs) {
    BrokerPath.of(dir);
    throw new ReadOnlyFileSystemException();
  }

  /** Always {@link ReadOnlyFileSystemException}. */
  @Override
  public void createSymbolicLink(Path link, Path target, FileAttribute<?>... attrs) {
    BrokerPath.of(link);
    throw new ReadOnlyFileSystemException();
  }

  /** Always {@link ReadOnlyFileSystemException}. */
  @Override
  public void createLink(Path link, Path existing) {
    BrokerPath.of(link);
    throw new ReadOnlyFileSystemException();
  }

  /** Always {@link ReadOnlyFileSystemException}. */
  @Override
  public void delete(Path path) {
    BrokerPath.of(path);
    throw new ReadOnlyFileSystemException();
  }

  /**
   * Always {@link ReadOnlyFileSystemException}: both paths are in this file system. (Copying out
   * of it, {@code Files.copy(brokered, local)}, reads through {@link #newInputStream}.)
   */
  @Override
  public void copy(Path source, Path target, CopyOption... options) {
    BrokerPath.of(target);
    throw new ReadOnlyFileSystemException();
  }

  /** Always {@link ReadOnlyFileSystemException}. */
  @Override
  public void move(Path source, Path target, CopyOption... options) {
    BrokerPath.of(target);
    throw new ReadOnlyFileSystemException();
  }

  /** Always {@link ReadOnlyFileSystemException}. */
  @Override
  public void setAttribute(Path path, String attribute, Object value, LinkOption... options) {
    BrokerPath.of(path);
    throw new ReadOnlyFileSystemException();
  }

  /**
   * The broker never reads a link's target: a {@link FileSystemException} for a symbolic link,
   * {@link NotLinkException} for anything else.
   */
  @Override
  public Path readSymbolicLink(Path link) throws IOException {
    BrokerPath p = BrokerPath.of(link);
    if (!p.getFileSystem().attributes(p).isSymbolicLink()) {
      throw new NotLinkException(p.toString());
    }
    throw new FileSystemException(p.toString(), null, "fdbroker does not read where a symbolic link points");
  }

  /**
   * Equal paths are the same file, and so are two that the broker is asked about with the same
   * text; nothing else is (the broker says nothing of inodes, so hard links look like two files).
   * Asks the broker nothing.
   */
  @Override
  public boolean isSameFile(Path path, Path path2) {
    if (path.equals(path2)) {
      return true;
    }
    if (!(path instanceof BrokerPath) || !(path2 instanceof BrokerPath)) {
      return false;
    }
    BrokerPath a = (BrokerPath) path;
    BrokerPath b = (BrokerPath) path2;
    return a.getFileSystem().socket().equals(b.getFileSystem().socket())
        && a.brokerPath().equals(b.brokerPath());
  }

  /** A name that starts with a dot, as on Linux. */
  @Override
  public boolean isHidden(Path path) {
    Path name = BrokerPath.of(path).getFileName();
    return name != null && name.toString().startsWith(".");
  }

  /** The file system's one store, once the broker has said that the path exists. */
  @Override
  public FileStore getFileStore(Path path) throws IOException {
    BrokerPath p = BrokerPath.of(path);
    p.getFileSystem().attributes(p);
    return p.getFileSystem().store();
  }

  /**
   * Whether the broker describes the path (a {@code stat}). {@code READ} is granted to anything
   * it describes; {@code WRITE} never ({@link AccessDeniedException}: the broker opens files for
   * reading only); {@code EXECUTE} to directories only.
   */
  @Override
  public void checkAccess(Path path, AccessMode... modes) throws IOException {
    BrokerPath p = BrokerPath.of(path);
    FileStat stat = p.getFileSystem().attributes(p);
    for (AccessMode mode : modes) {
      if (mode == AccessMode.WRITE) {
        throw new AccessDeniedException(p.toString(), null, "read-only file system");
      }
      if (mode == AccessMode.EXECUTE && !stat.isDirectory()) {
        throw new AccessDeniedException(p.toString(), null, "fdbroker opens files for reading only");
      }
    }
  }

  /** The "basic" view, whose times cannot be set; null for any other. */
  @Override
  @SuppressWarnings("unchecked")
  public <V extends FileAttributeView> V getFileAttributeView(Path path, Class<V> type, LinkOption... options) {
    BrokerPath p = BrokerPath.of(path);
    if (type == BasicFileAttributeView.class) {
      return (V) new BrokerFileAttributeView(p);
    }
    return null;
  }

  /**
   * {@link BasicFileAttributes} or {@link BrokerFileAttributes}, from a {@code stat} (or the
   * listing the path came from, within a second of it). Links are never followed, whatever the
   * options say.
   */
  @Override
  @SuppressWarnings("unchecked")
  public <A extends BasicFileAttributes> A readAttributes(Path path, Class<A> type, LinkOption... options)
      throws IOException {
    BrokerPath p = BrokerPath.of(path);
    if (type != BasicFileAttributes.class && type != BrokerFileAttributes.class) {
      throw new UnsupportedOperationException(type.getName() + " not supported");
    }
    return (A) new BrokerFileAttributes(p.getFileSystem().attributes(p));
  }

  /** The "basic" view's attributes by name, as {@code Files.readAttributes(path, "basic:*")}. */
  @Override
  public Map<String, Object> readAttributes(Path path, String attributes, LinkOption... options)
      throws IOException {
    BrokerPath p = BrokerPath.of(path);
    String[] names = AttributeMap.names(attributes);
    return AttributeMap.read(names, new BrokerFileAttributes(p.getFileSystem().attributes(p)));
  }
}
