package dev.fdbroker.broker.metrics;

import dev.fdbroker.broker.logging.ThrottledLog;
import dev.fdbroker.broker.server.SocketBinder;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.newsclub.net.unix.AFServerSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves {@code GET /metrics} over HTTP/1.x, on TCP or on a unix socket, one request per
 * connection. The JDK's HttpServer cannot bind a unix socket, and one small responder for both
 * transports is simpler than two.
 *
 * <p>Any local user can reach a TCP port, so the endpoint must cost the broker a fixed, small
 * amount whatever they do: one thread serves every connection (a selector), at most
 * {@link #MAX_CONNECTIONS} are open at once, and each has {@link #DEADLINE} from its accept to its
 * last byte, however slowly it sends. When all slots are taken, a new connection takes the slot of
 * the oldest one still sending its request: a real scraper sends its request as it connects, so a
 * crowd of slow or silent connections cannot keep it out. Failed accepts (out of descriptors) are
 * retried after a growing pause and logged rarely. Before, each connection had a thread of its own
 * and every byte reset its timeout: a thousand dribbling connections took a thousand threads and
 * descriptors, and at EMFILE the accept loop spun a core and logged a million lines.
 */
public final class MetricsEndpoint implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(MetricsEndpoint.class);
  static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
  /** Connections open at once: enough for a few scrapers and an operator's curl. */
  static final int MAX_CONNECTIONS = 8;
  /** From accept to the last byte of the response. */
  static final Duration DEADLINE = Duration.ofSeconds(5);
  private static final int MAX_HEAD = 8192;

  private final ServerSocketChannel listener;
  /** Our own listener is closed with the endpoint; an inherited one is the service manager's. */
  private final Closeable owned;
  private final Supplier<String> scrape;
  private final String address;
  private final Selector selector;
  private final List<Exchange> open = new ArrayList<>();
  private final ThrottledLog acceptFailures = new ThrottledLog(log, Duration.ofMinutes(1));
  private final Thread thread;
  private volatile boolean stopped;
  private long acceptBackoffMillis;
  /** While accepting is paused after a failure: when it resumes (System.nanoTime()), else 0. */
  private long acceptResumesAt;

  private MetricsEndpoint(ServerSocketChannel listener, Closeable owned, Supplier<String> scrape, String address)
      throws IOException {
    this.listener = listener;
    this.owned = owned;
    this.scrape = scrape;
    this.address = address;
    this.selector = listener.provider().openSelector();
    listener.configureBlocking(false);
    listener.register(selector, SelectionKey.OP_ACCEPT);
    this.thread = Thread.ofPlatform().daemon(true).name("fdbroker-metrics").unstarted(this::run);
  }

  /**
   * Serves on a socket passed by the service manager (fdbroker-metrics.socket). It is never closed
   * or shut down here: systemd keeps it for the next broker.
   */
  public static MetricsEndpoint serve(AFServerSocket<?> inherited, Supplier<String> scrape) throws IOException {
    MetricsEndpoint endpoint = new MetricsEndpoint(inherited.getChannel(), null, scrape, "systemd");
    endpoint.thread.start();
    log.info("metrics on the socket-activated metrics socket, at /metrics");
    return endpoint;
  }

  /**
   * Binds {@code listen} ({@code host:port} or {@code unix:/path}) and starts serving.
   *
   * @throws SocketBinder.BadSettingException a unix socket path that cannot be used as given
   * @throws IOException the address is taken, or cannot be bound otherwise (the message names it)
   */
  public static MetricsEndpoint start(String listen, Supplier<String> scrape) throws IOException {
    MetricsEndpoint endpoint;
    if (listen.startsWith("unix:")) {
      SocketBinder.BoundSocket bound = SocketBinder.bind(Path.of(listen.substring(5)), SocketBinder.parseMode("0660"));
      endpoint = new MetricsEndpoint(bound.server().getChannel(), bound, scrape, listen);
    } else {
      int colon = listen.lastIndexOf(':');
      String host = listen.substring(0, colon).replace("[", "").replace("]", "");
      int port = Integer.parseInt(listen.substring(colon + 1));
      ServerSocketChannel tcp = ServerSocketChannel.open();
      try {
        tcp.bind(new InetSocketAddress(InetAddress.getByName(host), port), 50);
        endpoint = new MetricsEndpoint(tcp, tcp, scrape, listen);
      } catch (IOException e) {
        tcp.close();
        throw new IOException("cannot listen on " + listen + ": " + e.getMessage(), e);
      } catch (RuntimeException e) {
        tcp.close();
        throw e;
      }
    }
    endpoint.thread.start();
    log.info("metrics at http://{}/metrics", listen);
    return endpoint;
  }

  public String address() {
    return address;
  }

  private void run() {
    try {
      while (!stopped) {
        selector.select(timeoutMillis());
        for (SelectionKey key : selector.selectedKeys()) {
          if (!key.isValid()) {
            continue;
          }
          if (key.channel() == listener) {
            acceptAll();
          } else if (key.attachment() instanceof Exchange x) {
            x.progress();
          }
        }
        selector.selectedKeys().clear();
        long now = System.nanoTime();
        for (Exchange x : List.copyOf(open)) {
          if (now - x.deadline >= 0) {
            x.close(); // too slow: the deadline counts from the accept, however the bytes trickle
          }
        }
        if (acceptResumesAt != 0 && now - acceptResumesAt >= 0) {
          acceptResumesAt = 0;
          listener.keyFor(selector).interestOps(SelectionKey.OP_ACCEPT);
        }
      }
    } catch (IOException | RuntimeException e) {
      if (!stopped) {
        log.error("the metrics endpoint failed; no more scrapes until the broker restarts", e);
      }
    } finally {
      for (Exchange x : List.copyOf(open)) {
        x.close();
      }
      try {
        selector.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
  }

  /** Until the next deadline or the end of an accept pause (0: none, wait for readiness). */
  private long timeoutMillis() {
    long next = acceptResumesAt;
    for (Exchange x : open) {
      if (next == 0 || x.deadline - next < 0) {
        next = x.deadline;
      }
    }
    return next == 0 ? 0 : Math.max(1, (next - System.nanoTime() + 999_999) / 1_000_000);
  }

  private void acceptAll() throws IOException {
    while (true) {
      SocketChannel s;
      try {
        s = listener.accept();
      } catch (IOException e) {
        // Out of descriptors, most likely: pause accepting for a while, longer each time, and say
        // so rarely. Connections wait in the backlog meanwhile.
        acceptBackoffMillis = Math.min(1000, Math.max(10, acceptBackoffMillis * 2));
        acceptResumesAt = System.nanoTime() + acceptBackoffMillis * 1_000_000;
        listener.keyFor(selector).interestOps(0);
        acceptFailures.warn("metrics endpoint: accept failed: {}", e.toString());
        return;
      }
      if (s == null) {
        return;
      }
      acceptBackoffMillis = 0;
      if (open.size() >= MAX_CONNECTIONS) {
        oldestStillSending().close();
      }
      try {
        s.configureBlocking(false);
        Exchange x = new Exchange(s);
        x.key = s.register(selector, SelectionKey.OP_READ, x);
        open.add(x);
        x.progress(); // a scraper's request is usually there already
      } catch (IOException | RuntimeException e) {
        s.close();
      }
    }
  }

  /** The connection to give up for a new one: the oldest still sending its request, else the oldest. */
  private Exchange oldestStillSending() {
    for (Exchange x : open) {
      if (x.response == null) {
        return x;
      }
    }
    return open.get(0);
  }

  /** One connection: reading its request head, then writing the response. */
  private final class Exchange {
    final SocketChannel channel;
    final long deadline = System.nanoTime() + DEADLINE.toNanos();
    final ByteBuffer head = ByteBuffer.allocate(MAX_HEAD);
    SelectionKey key;
    ByteBuffer response;

    Exchange(SocketChannel channel) {
      this.channel = channel;
    }

    void progress() {
      try {
        if (response == null) {
          int n = channel.read(head);
          String requestLine = requestLine();
          if (requestLine == null && n >= 0 && head.hasRemaining()) {
            return; // more to come
          }
          response = respond(requestLine);
          key.interestOps(SelectionKey.OP_WRITE);
        }
        channel.write(response);
        if (!response.hasRemaining()) {
          close();
        }
      } catch (IOException | RuntimeException e) {
        log.debug("metrics request failed: {}", e.toString());
        close();
      }
    }

    /** The request line, once the head (up to the blank line) is complete; else null. */
    private String requestLine() {
      String text = new String(head.array(), 0, head.position(), StandardCharsets.ISO_8859_1);
      int end = text.indexOf("\r\n\r\n");
      if (end < 0) {
        end = text.indexOf("\n\n");
      }
      return end < 0 ? null : text.lines().findFirst().orElse("");
    }

    void close() {
      open.remove(this);
      try {
        channel.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
  }

  /** The response to a request line (null: the head was incomplete, too long or cut off). */
  private ByteBuffer respond(String requestLine) {
    String[] parts = requestLine == null ? new String[0] : requestLine.split(" ");
    if (parts.length != 3 || !parts[2].startsWith("HTTP/1.")) {
      return response(400, "Bad Request", "text/plain; charset=utf-8", "bad request\n", true);
    }
    boolean head = parts[0].equals("HEAD");
    if (!parts[0].equals("GET") && !head) {
      return response(405, "Method Not Allowed", "text/plain; charset=utf-8", "GET /metrics\n", true);
    }
    if (!parts[1].equals("/metrics") && !parts[1].startsWith("/metrics?")) {
      return response(404, "Not Found", "text/plain; charset=utf-8", "fdbroker serves /metrics\n", !head);
    }
    return response(200, "OK", CONTENT_TYPE, scrape.get(), !head);
  }

  private static ByteBuffer response(int status, String reason, String type, String body, boolean withBody) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    byte[] head = ("HTTP/1.1 " + status + " " + reason + "\r\nContent-Type: " + type + "\r\nContent-Length: "
        + bytes.length + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
    ByteBuffer b = ByteBuffer.allocate(head.length + (withBody ? bytes.length : 0));
    b.put(head);
    if (withBody) {
      b.put(bytes);
    }
    return b.flip();
  }

  /** Stops serving; closes the listening socket if it is the endpoint's own. */
  @Override
  public void close() throws IOException {
    stopped = true;
    selector.wakeup();
    try {
      thread.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (owned != null) {
      owned.close();
    }
  }
}
