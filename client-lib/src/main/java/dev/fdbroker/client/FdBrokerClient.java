package dev.fdbroker.client;

import dev.fdbroker.client.nio.BrokerFileSystemProvider;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.FileResult;
import dev.fdbroker.protocol.MalformedReplyException;
import dev.fdbroker.protocol.PathSyntax;
import dev.fdbroker.protocol.Reply;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketTimeoutException;
import java.nio.file.FileSystem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * A client of the fdbroker daemon: asks it to open files, and receives read-only descriptors; to
 * describe paths ({@link #stat}); to list directories ({@link #list}). {@link #fileSystem()} puts
 * a read-only java.nio {@link FileSystem} over all three.
 *
 * <pre>{@code
 * try (var client = FdBrokerClient.connect(Path.of("/run/fdbroker/fdbroker.sock"))) {
 *   try (var file = client.open("/srv/assets/logo.png")) {
 *     ByteBuffer head = ByteBuffer.allocate(16);
 *     file.channel().read(head, 0);
 *   }
 *   for (DirectoryListing entries = client.list("/srv/assets"); entries.hasNext(); ) {
 *     FileStat entry = entries.next();   // name, type, size, lastModified, mode
 *   }
 * }
 * }</pre>
 *
 * <p>One client is meant to be shared: it is thread-safe and keeps a small pool of connections,
 * each used by one thread at a time. Files stay open after the client is closed.
 *
 * <p>Every request is idempotent, so it is sent again when it may not have been served: when the
 * pooled connection it took had been closed by the broker (idle timeout, restart), at once on a
 * fresh one; when the broker cannot be reached (its socket is missing or nobody listens: a
 * restart), when the connection breaks before the whole reply came, or when the broker answers
 * {@code busy}, after a pause that grows from about 10 ms to about 1 s, with jitter. It keeps trying
 * until the request timeout is used up (the last try still gets 100 ms of it), then throws the last
 * error, saying how many tries it made in how long.
 * A refusal of the request ({@code bad_request}, {@code too_large}), a reply that does not decode,
 * and a socket this process may not connect to fail at once. Descriptors that came with a failed
 * exchange are closed before the next try.
 *
 * <p>Refusals are the java.nio exceptions a Java user expects: {@link
 * java.nio.file.AccessDeniedException} when the policy denies a path, {@link
 * java.nio.file.NoSuchFileException} when it does not exist, {@link
 * java.nio.file.NotDirectoryException} when a listed path is not a directory, {@link
 * BrokerFileException} with a {@link ErrorCode} otherwise. A broker that cannot be reached gives {@link
 * BrokerUnavailableException}; one that refuses a whole request, {@link BrokerRefusedException}; one
 * that does not answer in time, {@link SocketTimeoutException}.
 */
public final class FdBrokerClient implements AutoCloseable {
  /** Where the packaged broker listens. */
  public static final Path DEFAULT_SOCKET = Path.of("/run/fdbroker/fdbroker.sock");

  private final Path socket;
  private final int connectTimeoutMillis;
  private final int requestTimeoutMillis;
  private final Semaphore permits;
  private final Backoff backoff;
  private final ArrayDeque<BrokerConnection> idle = new ArrayDeque<>();
  private boolean closed;
  /** The file system over this client, made on first asking; guarded by {@link #idle}. */
  private FileSystem fileSystem;
  /** The broker's limit of paths per request, learnt from a ping; 0 until then. */
  private volatile int maxPaths;

  private FdBrokerClient(Builder b) {
    this.socket = b.socket;
    this.connectTimeoutMillis = toMillis(b.connectTimeout);
    this.requestTimeoutMillis = toMillis(b.requestTimeout);
    this.permits = new Semaphore(b.maxConnections, true);
    this.backoff = b.backoff;
  }

  /** Connects to the broker at {@code socket} with default settings, failing now if it cannot. */
  public static FdBrokerClient connect(Path socket) throws IOException {
    return builder(socket).connect();
  }

  /** A builder for a client of the broker at {@code socket}. */
  public static Builder builder(Path socket) {
    return new Builder(socket);
  }

  /** The broker's socket, as given to the builder. */
  public Path socket() {
    return socket;
  }

  /** Asks the broker who it is; also a cheap check that it is up. */
  public BrokerInfo ping() throws IOException {
    Reply.Pong pong = (Reply.Pong) call(BrokerConnection::ping, false);
    maxPaths = pong.maxPaths();
    return new BrokerInfo(pong.brokerVersion(), pong.protocolVersion(), pong.maxPaths(), pong.ops());
  }

  /** Opens one file through the broker. */
  public BrokeredFile open(String path) throws IOException {
    Objects.requireNonNull(path, "path");
    try (OpenBatch batch = openAll(List.of(path))) {
      return batch.take(0);
    }
  }

  /** Opens one file through the broker. The path must be absolute; it is not normalized. */
  public BrokeredFile open(Path path) throws IOException {
    return open(path.toString());
  }

  /**
   * Opens several files. Each gets its own {@link OpenResult}, in the order given; one refusal does
   * not affect the others. A batch larger than one request may carry (the broker's limit, and at
   * most 60 for junixsocket) is split into several requests.
   *
   * @throws IOException the broker could not be asked (nothing stays open in that case)
   */
  public OpenBatch openAll(Collection<String> paths) throws IOException {
    List<String> all = List.copyOf(paths);
    if (all.isEmpty()) {
      throw new IllegalArgumentException("no paths to open");
    }
    int step = Math.min(pathsPerRequest(all.size()), BrokerConnection.MAX_DESCRIPTORS_PER_REPLY);
    List<OpenResult> results = new ArrayList<>(all.size());
    try {
      for (int from = 0; from < all.size(); from += step) {
        List<String> chunk = all.subList(from, Math.min(all.size(), from + step));
        List<BrokeredFile> files = new ArrayList<>();
        Reply.Opened opened = (Reply.Opened) call(conn -> conn.open(chunk, files), false);
        if (opened.files().size() != chunk.size()) {
          for (BrokeredFile f : files) {
            f.close();
          }
          throw new MalformedReplyException(
              "asked for " + chunk.size() + " paths, got " + opened.files().size() + " results");
        }
        int granted = 0;
        for (FileResult r : opened.files()) {
          if (r instanceof FileResult.Granted) {
            results.add(new OpenResult.Granted(files.get(granted++)));
          } else {
            FileResult.Refused refused = (FileResult.Refused) r;
            results.add(new OpenResult.Refused(refused.path(), refused.error(), refused.message()));
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      new OpenBatch(results).close();
      throw e;
    }
    return new OpenBatch(results);
  }

  /** Opens several files; see {@link #openAll(Collection)}. */
  public OpenBatch openAll(String... paths) throws IOException {
    return openAll(List.of(paths));
  }

  /**
   * Describes one path: its type, size, modification time and mode, as the broker's {@code statx}
   * of the path itself found them. A symbolic link is described as itself, never followed; one
   * before the last component is refused. Nothing is opened.
   *
   * @throws java.nio.file.AccessDeniedException the policy does not let this process see the path
   * @throws java.nio.file.NoSuchFileException there is no such file
   * @throws BrokerFileException any other refusal of the path (its {@link ErrorCode}, such as
   *     {@code symlink}, tells which)
   */
  public FileStat stat(String path) throws IOException {
    Objects.requireNonNull(path, "path");
    return statAll(List.of(path)).get(0).stat();
  }

  /**
   * Describes several paths. Each gets its own {@link StatResult}, in the order given; one refusal
   * does not affect the others. A batch larger than the broker takes in one request is split.
   *
   * @throws IOException the broker could not be asked
   */
  public List<StatResult> statAll(Collection<String> paths) throws IOException {
    List<String> all = List.copyOf(paths);
    if (all.isEmpty()) {
      throw new IllegalArgumentException("no paths to stat");
    }
    int step = pathsPerRequest(all.size());
    List<StatResult> results = new ArrayList<>(all.size());
    for (int from = 0; from < all.size(); from += step) {
      List<String> chunk = all.subList(from, Math.min(all.size(), from + step));
      Reply.Stated stated = (Reply.Stated) call(conn -> conn.stat(chunk), false);
      if (stated.files().size() != chunk.size()) {
        throw new MalformedReplyException(
            "asked about " + chunk.size() + " paths, got " + stated.files().size() + " results");
      }
      for (FileResult r : stated.files()) {
        if (r instanceof FileResult.Found) {
          results.add(new StatResult.Found(FileStat.of((FileResult.Found) r)));
        } else {
          FileResult.Refused refused = (FileResult.Refused) r;
          results.add(new StatResult.Refused(refused.path(), refused.error(), refused.message()));
        }
      }
    }
    return List.copyOf(results);
  }

  /** Describes several paths; see {@link #statAll(Collection)}. */
  public List<StatResult> statAll(String... paths) throws IOException {
    return statAll(List.of(paths));
  }

  /**
   * Lists a directory: the entries this process may see (the broker leaves out any whose path it
   * would not describe), each with the attributes {@link #stat} would give, fetched a page at a
   * time as the listing is iterated. The first page is fetched now.
   *
   * @param directory an absolute, canonical path; it is sent as it is
   * @throws java.nio.file.AccessDeniedException the policy does not let this process list it
   * @throws java.nio.file.NoSuchFileException there is no such directory
   * @throws java.nio.file.NotDirectoryException it is not a directory
   * @throws BrokerFileException any other refusal (its {@link ErrorCode}, such as {@code symlink}
   *     for a path through or to a symbolic link, or {@code bad_request} for a path that is not
   *     canonical, tells which)
   */
  public DirectoryListing list(String directory) throws IOException {
    Objects.requireNonNull(directory, "directory");
    String problem = PathSyntax.problem(directory);
    if (problem != null) {
      // What the broker would answer, without asking it.
      throw new BrokerFileException(directory, ErrorCode.BAD_REQUEST, problem);
    }
    return new DirectoryListing(this, directory, listPage(directory, null));
  }

  /** One page of a listing; a failure with the directory's code is thrown as its exception. */
  Reply.Listed listPage(String directory, String cursor) throws IOException {
    Reply reply = call(conn -> conn.list(directory, cursor), true);
    if (reply instanceof Reply.Failed) {
      Reply.Failed failed = (Reply.Failed) reply;
      throw Refusals.exception(directory, failed.error(), failed.message());
    }
    return (Reply.Listed) reply;
  }

  /**
   * A read-only {@link FileSystem} over this client: {@code Files.newInputStream}, {@code
   * Files.walk}, {@code FileChannel.map} and the like on {@code fileSystem().getPath("/srv/a/x")},
   * each asking the broker. See {@link dev.fdbroker.client.nio} for what it does and does not do.
   *
   * <p>The same file system is returned until it is closed; closing it leaves this client open,
   * and closing this client closes it.
   */
  public FileSystem fileSystem() {
    synchronized (idle) {
      if (fileSystem == null || !fileSystem.isOpen()) {
        fileSystem = BrokerFileSystemProvider.forClient(this);
      }
      return fileSystem;
    }
  }

  /** How many paths one request may carry, asking the broker its limit first if it matters. */
  private int pathsPerRequest(int paths) throws IOException {
    if (paths > 1 && maxPaths == 0) {
      ping();
    }
    return Math.max(1, maxPaths);
  }

  /** One request's exchange on a connection. */
  @FunctionalInterface
  private interface Exchange {
    Reply on(BrokerConnection conn) throws IOException;
  }

  /**
   * One request, tried until it gets an answer or its deadline ({@code requestTimeout} from now)
   * passes. Every operation is idempotent, so a request the broker may or may not have seen
   * is safe to send again. Retried: failing to connect (no socket, nobody listening: a broker
   * restarting), a connection that broke before the whole reply came (a broker stopping), and
   * {@code busy}. Not retried: any other refusal, a reply that does not decode, a reply that did
   * not come in time (the deadline has passed), and a socket we may not use.
   *
   * @param listing a list request, whose failure with the directory's code is its answer
   */
  private Reply call(Exchange request, boolean listing) throws IOException {
    acquirePermit();
    try {
      Backoff.Attempts attempts = backoff.begin(requestTimeoutMillis);
      BrokerConnection conn = pollIdle();
      while (true) {
        boolean pooled = conn != null;
        // The first try has the whole request timeout; a retry has what is left of it.
        int timeout = attempts.first() ? requestTimeoutMillis : attempts.remainingMillis();
        if (conn == null) {
          ensureOpen();
          int connectTimeout = Math.min(connectTimeoutMillis, timeout);
          try {
            conn = BrokerConnection.open(socket, connectTimeout, timeout);
          } catch (IOException e) {
            if (deniedToUs() || !attempts.pause()) {
              throw connectFailure(e, connectTimeout, attempts);
            }
            continue;
          }
        }
        try {
          return exchange(conn, request, listing);
        } catch (IOException e) {
          conn = null; // exchange closed it
          boolean broke = brokeBeforeTheReply(e);
          if (pooled && broke) {
            // The broker had closed the pooled connection (idle timeout, restart): a fresh one at once.
            attempts.again();
            continue;
          }
          if (!(broke || isBusy(e)) || !attempts.pause()) {
            throw exchangeFailure(e, timeout, attempts);
          }
        }
      }
    } finally {
      permits.release();
    }
  }

  /**
   * One request on one connection. The connection goes back to the pool only after a clean
   * exchange; after any failure it is closed, since the stream may be out of step. A list refused
   * with the directory's own code ({@code denied}, {@code not_found}, {@code not_directory}...) is
   * a clean exchange: the broker served the request, and the connection stays in step.
   */
  private Reply exchange(BrokerConnection conn, Exchange request, boolean listing) throws IOException {
    Reply reply;
    try {
      reply = request.on(conn);
    } catch (IOException | RuntimeException e) {
      closeQuietly(conn); // the failure, not the closing, decides whether to try again
      throw e;
    }
    if (reply instanceof Reply.Failed && !(listing && isDirectoryFailure((Reply.Failed) reply))) {
      closeQuietly(conn);
      throw refusal(reply);
    }
    release(conn);
    return reply;
  }

  /** Whether a list's failure is the directory's, rather than one of the whole request. */
  private static boolean isDirectoryFailure(Reply.Failed failed) {
    ErrorCode code = failed.error();
    return code != ErrorCode.BAD_REQUEST && code != ErrorCode.TOO_LARGE && code != ErrorCode.BUSY;
  }

  /**
   * Whether the connection failed before a whole reply came: the broker went away, or was going.
   * Not a refusal, not a reply that failed to decode, not a timeout or an interrupt.
   */
  private static boolean brokeBeforeTheReply(IOException e) {
    return !(e instanceof BrokerRefusedException || e instanceof MalformedReplyException
        || e instanceof InterruptedIOException);
  }

  private static boolean isBusy(IOException e) {
    return e instanceof BrokerRefusedException && ((BrokerRefusedException) e).code() == ErrorCode.BUSY;
  }

  /**
   * Whether the socket is there but not ours to connect to. Its mode and group come from the
   * broker's configuration and stay the same across a restart, so waiting would not help.
   */
  private boolean deniedToUs() {
    return !Files.notExists(socket) && !Files.isWritable(socket);
  }

  /** What a caller sees when connecting failed for good: the last error, and how long we tried. */
  private IOException connectFailure(IOException last, int timeoutMillis, Backoff.Attempts attempts) {
    if (last instanceof SocketTimeoutException) {
      return new SocketTimeoutException("could not connect to fdbroker at " + socket + " within "
          + timeoutMillis + " ms" + triesNote(attempts));
    }
    return new BrokerUnavailableException(socket, last, triesNote(attempts));
  }

  /** What a caller sees when an exchange failed for good: the last error, and how long we tried. */
  private IOException exchangeFailure(IOException last, int timeoutMillis, Backoff.Attempts attempts) {
    if (last instanceof SocketTimeoutException) {
      return new SocketTimeoutException("fdbroker at " + socket + " did not answer within "
          + timeoutMillis + " ms" + triesNote(attempts));
    }
    if (isBusy(last) && !attempts.first()) {
      return new BrokerRefusedException((BrokerRefusedException) last, triesNote(attempts));
    }
    if (last instanceof BrokerRefusedException || last instanceof MalformedReplyException) {
      return last;
    }
    return new BrokerUnavailableException(socket, last, triesNote(attempts));
  }

  private static String triesNote(Backoff.Attempts attempts) {
    return attempts.first() ? "" : " (" + attempts + ")";
  }

  private static BrokerRefusedException refusal(Reply reply) {
    Reply.Failed failed = (Reply.Failed) reply;
    return new BrokerRefusedException(failed.error(), failed.message());
  }

  private void acquirePermit() throws IOException {
    try {
      if (!permits.tryAcquire(requestTimeoutMillis, TimeUnit.MILLISECONDS)) {
        throw new SocketTimeoutException("all connections to fdbroker stayed busy for "
            + requestTimeoutMillis + " ms");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for a connection");
    }
  }

  private void ensureOpen() throws IOException {
    synchronized (idle) {
      if (closed) {
        throw new IOException("client is closed");
      }
    }
  }

  private BrokerConnection pollIdle() {
    synchronized (idle) {
      return idle.pollFirst();
    }
  }

  /**
   * Puts a connection back in the pool after a clean exchange. Never throws: the exchange's files
   * are already in the caller's hands.
   */
  private void release(BrokerConnection conn) {
    try {
      conn.replyTimeout(requestTimeoutMillis); // a retry's connection may have been given less
      synchronized (idle) {
        if (!closed) {
          idle.offerFirst(conn);
          return;
        }
      }
    } catch (IOException e) {
      // not worth keeping
    }
    closeQuietly(conn);
  }

  private static void closeQuietly(BrokerConnection conn) {
    try {
      conn.close();
    } catch (IOException e) {
      // nothing more to do with it
    }
  }

  /**
   * Closes the pooled connections, and the {@link #fileSystem()} if one was made. Files already
   * opened stay open.
   */
  @Override
  public void close() throws IOException {
    List<BrokerConnection> toClose;
    FileSystem fs;
    synchronized (idle) {
      closed = true;
      toClose = new ArrayList<>(idle);
      idle.clear();
      fs = fileSystem;
    }
    if (fs != null) {
      fs.close();
    }
    for (BrokerConnection c : toClose) {
      c.close();
    }
  }

  private static int toMillis(Duration d) {
    long ms = d.toMillis();
    if (ms <= 0 || ms > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("timeout out of range: " + d);
    }
    return (int) ms;
  }

  /** Settings for a {@link FdBrokerClient}. */
  public static final class Builder {
    private final Path socket;
    private Duration connectTimeout = Duration.ofSeconds(5);
    private Duration requestTimeout = Duration.ofSeconds(30);
    private int maxConnections = 4;
    private Backoff backoff = Backoff.DEFAULT;

    private Builder(Path socket) {
      this.socket = Objects.requireNonNull(socket, "socket");
    }

    /** How long to wait for a connection to be accepted. Default 5 s. */
    public Builder connectTimeout(Duration timeout) {
      toMillis(timeout);
      this.connectTimeout = timeout;
      return this;
    }

    /**
     * How long a request may take, retries included, and how long to wait for a free connection.
     * Default 30 s. A broker that is restarting or busy is tried again until this has passed.
     */
    public Builder requestTimeout(Duration timeout) {
      toMillis(timeout);
      this.requestTimeout = timeout;
      return this;
    }

    /** How many requests may be in flight at once; more callers wait. Default 4. */
    public Builder maxConnections(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("maxConnections must be at least 1");
      }
      this.maxConnections = n;
      return this;
    }

    /** The pauses between tries; tests give one with a clock of their own. */
    Builder backoff(Backoff backoff) {
      this.backoff = Objects.requireNonNull(backoff, "backoff");
      return this;
    }

    /** A client that connects on first use. */
    public FdBrokerClient build() {
      return new FdBrokerClient(this);
    }

    /** A client that has already reached the broker once, so a wrong socket fails here. */
    public FdBrokerClient connect() throws IOException {
      FdBrokerClient client = build();
      try {
        client.ping();
      } catch (IOException e) {
        client.close();
        throw e;
      }
      return client;
    }
  }
}
