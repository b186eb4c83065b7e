package dev.fdbroker.broker.metrics;

import dev.fdbroker.broker.server.SocketBinder;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Semaphore;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves {@code GET /metrics} over HTTP/1.x, on TCP or on a unix socket. The JDK's HttpServer
 * cannot bind a unix socket, and one small responder for both transports is simpler than two: it
 * answers one request per connection, reads a bounded head with a timeout, and closes.
 */
public final class MetricsEndpoint implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(MetricsEndpoint.class);
  static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
  private static final int MAX_HEAD = 8192;
  private static final int TIMEOUT_MILLIS = 5000;
  /** Scrapes are cheap but not free: a few at once is plenty for any monitoring setup. */
  private static final int MAX_CONCURRENT = 4;
  /** Platform threads: junixsocket's virtual-thread polling does not scale (see BrokerServer). */
  private static final Thread.Builder THREADS = Thread.ofPlatform().daemon(true).stackSize(512 * 1024);

  private final ServerSocket server;
  private final SocketBinder.BoundSocket unixSocket;
  private final Supplier<String> scrape;
  private final Semaphore slots = new Semaphore(MAX_CONCURRENT);
  private final String address;

  private MetricsEndpoint(ServerSocket server, SocketBinder.BoundSocket unixSocket, Supplier<String> scrape, String address) {
    this.server = server;
    this.unixSocket = unixSocket;
    this.scrape = scrape;
    this.address = address;
  }

  /** Serves on a socket passed by the service manager (fdbroker-metrics.socket). */
  public static MetricsEndpoint serve(ServerSocket inherited, Supplier<String> scrape) {
    MetricsEndpoint endpoint = new MetricsEndpoint(inherited, null, scrape, "systemd");
    THREADS.name("fdbroker-metrics").start(endpoint::acceptLoop);
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
      endpoint = new MetricsEndpoint(bound.server(), bound, scrape, listen);
    } else {
      int colon = listen.lastIndexOf(':');
      String host = listen.substring(0, colon).replace("[", "").replace("]", "");
      int port = Integer.parseInt(listen.substring(colon + 1));
      ServerSocket tcp;
      try {
        tcp = new ServerSocket(port, 50, InetAddress.getByName(host));
      } catch (IOException e) {
        throw new IOException("cannot listen on " + listen + ": " + e.getMessage(), e);
      }
      endpoint = new MetricsEndpoint(tcp, null, scrape, listen);
    }
    THREADS.name("fdbroker-metrics").start(endpoint::acceptLoop);
    log.info("metrics at http://{}/metrics", listen);
    return endpoint;
  }

  public String address() {
    return address;
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      try {
        Socket s = server.accept();
        THREADS.name("fdbroker-scrape").start(() -> answer(s));
      } catch (IOException e) {
        if (!server.isClosed()) {
          log.warn("metrics endpoint: accept failed: {}", e.toString());
        }
      }
    }
  }

  private void answer(Socket s) {
    try (s) {
      s.setSoTimeout(TIMEOUT_MILLIS);
      String requestLine = readHead(s.getInputStream());
      String[] parts = requestLine == null ? new String[0] : requestLine.split(" ");
      OutputStream out = s.getOutputStream();
      if (parts.length != 3 || !parts[2].startsWith("HTTP/1.")) {
        respond(out, 400, "Bad Request", "text/plain; charset=utf-8", "bad request\n", true);
      } else if (!parts[0].equals("GET") && !parts[0].equals("HEAD")) {
        respond(out, 405, "Method Not Allowed", "text/plain; charset=utf-8", "GET /metrics\n", true);
      } else if (!parts[1].equals("/metrics") && !parts[1].startsWith("/metrics?")) {
        respond(out, 404, "Not Found", "text/plain; charset=utf-8", "fdbroker serves /metrics\n", !parts[0].equals("HEAD"));
      } else if (!slots.tryAcquire()) {
        respond(out, 503, "Service Unavailable", "text/plain; charset=utf-8", "too many scrapes at once\n", true);
      } else {
        try {
          respond(out, 200, "OK", CONTENT_TYPE, scrape.get(), !parts[0].equals("HEAD"));
        } finally {
          slots.release();
        }
      }
    } catch (IOException | RuntimeException e) {
      log.debug("metrics request failed: {}", e.toString());
    }
  }

  /** The request line, after reading (and discarding) the headers up to the blank line. */
  private static String readHead(InputStream in) throws IOException {
    byte[] head = new byte[MAX_HEAD];
    int n = 0;
    while (n < MAX_HEAD) {
      int r = in.read(head, n, MAX_HEAD - n);
      if (r < 0) {
        break;
      }
      n += r;
      String text = new String(head, 0, n, StandardCharsets.ISO_8859_1);
      if (text.contains("\r\n\r\n") || text.contains("\n\n")) {
        return text.lines().findFirst().orElse(null);
      }
    }
    return null;
  }

  private static void respond(OutputStream out, int status, String reason, String type, String body, boolean withBody)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    String head = "HTTP/1.1 " + status + " " + reason + "\r\nContent-Type: " + type + "\r\nContent-Length: "
        + bytes.length + "\r\nConnection: close\r\n\r\n";
    out.write(head.getBytes(StandardCharsets.ISO_8859_1));
    if (withBody) {
      out.write(bytes);
    }
    out.flush();
  }

  @Override
  public void close() throws IOException {
    if (unixSocket != null) {
      unixSocket.close();
    } else {
      server.close();
    }
  }
}
