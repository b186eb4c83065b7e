package dev.fdbroker.broker.systemd;

import dev.fdbroker.broker.posix.Posix;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import org.newsclub.net.unix.AFServerSocket;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * The sd_listen_fds protocol: a service manager (systemd, or systemd-socket-activate) that created
 * the listening sockets passes them as descriptors 3, 4, ..., and says so with LISTEN_FDS (how
 * many), LISTEN_PID (for which process: environment variables are inherited, descriptors meant for
 * a parent must not be taken by a child) and LISTEN_FDNAMES (their names, colon-separated).
 *
 * <p>fdbroker takes one or two: the request socket (AF_UNIX), and optionally one named
 * {@value #METRICS_NAME} (from fdbroker-metrics.socket) for the metrics endpoint, so that a
 * service without network access can still be scraped over TCP.
 */
public final class SocketActivation {
  /** SD_LISTEN_FDS_START: the first passed descriptor. */
  static final int FIRST_FD = 3;
  /** FileDescriptorName= of the metrics socket. */
  public static final String METRICS_NAME = "metrics";

  /** The sockets a service manager passed. */
  public record Sockets(AFUNIXServerSocket requests, Optional<AFServerSocket<?>> metrics) {}

  private SocketActivation() {}

  /** A socket-activation environment that cannot be used. */
  public static final class ActivationException extends IOException {
    private static final long serialVersionUID = 1L;

    ActivationException(String message) {
      super(message);
    }
  }

  /** The inherited sockets, or empty when not socket-activated (no LISTEN_FDS). */
  public static Optional<Sockets> inherited() throws IOException {
    return inherited(System.getenv(), ProcessHandle.current().pid());
  }

  static Optional<Sockets> inherited(Map<String, String> env, long pid) throws IOException {
    String fds = env.get("LISTEN_FDS");
    if (fds == null) {
      return Optional.empty();
    }
    String listenPid = env.get("LISTEN_PID");
    if (listenPid == null || !listenPid.equals(Long.toString(pid))) {
      throw new ActivationException("LISTEN_FDS is set but LISTEN_PID is " + listenPid + ", not this process ("
          + pid + "): the sockets were passed to another process");
    }
    int count;
    try {
      count = Integer.parseInt(fds);
    } catch (NumberFormatException e) {
      throw new ActivationException("LISTEN_FDS is not a number: " + fds);
    }
    String[] names = env.getOrDefault("LISTEN_FDNAMES", "").split(":", -1);
    Integer requestFd = null;
    Integer metricsFd = null;
    for (int i = 0; i < count; i++) {
      int fd = FIRST_FD + i;
      boolean metrics = i < names.length && names[i].equals(METRICS_NAME);
      if (metrics && metricsFd == null) {
        metricsFd = fd;
      } else if (!metrics && requestFd == null) {
        requestFd = fd;
      } else {
        throw new ActivationException("unexpected socket " + fd + " (LISTEN_FDS=" + fds + ", LISTEN_FDNAMES="
            + env.get("LISTEN_FDNAMES") + "): fdbroker takes one request socket and at most one named "
            + METRICS_NAME);
      }
    }
    if (requestFd == null) {
      throw new ActivationException("no request socket among the " + count + " passed (LISTEN_FDNAMES="
          + env.get("LISTEN_FDNAMES") + ")");
    }
    checkListening(requestFd, Posix.AF_UNIX, "the request socket; check ListenStream= in fdbroker.socket, and Accept=no");
    AFUNIXServerSocket requests = FileDescriptorCast.unsafeUsing(requestFd).as(AFUNIXServerSocket.class);
    keepForTheServiceManager(requests);
    Optional<AFServerSocket<?>> metrics = Optional.empty();
    if (metricsFd != null) {
      checkListening(metricsFd, -1, "the metrics socket; check ListenStream= in fdbroker-metrics.socket");
      // Any family (usually TCP): junixsocket wraps what it has no class for in a generic socket.
      AFServerSocket<?> socket = FileDescriptorCast.unsafeUsing(metricsFd).as(AFServerSocket.class);
      keepForTheServiceManager(socket);
      metrics = Optional.of(socket);
    }
    return Optional.of(new Sockets(requests, metrics));
  }

  /**
   * An inherited socket is never shut down and never closed: the service manager holds the same
   * socket and keeps it listening for the next broker (while none runs, connections wait in its
   * backlog). A shutdown would leave it refusing connections, or failing accept with EINVAL, for
   * every broker after this one. junixsocket shuts a socket down when it closes it, so the broker
   * never closes these (they go with the process); this also keeps junixsocket's cleaner, should
   * the object ever be collected, from shutting it down, and from removing the socket file.
   */
  private static void keepForTheServiceManager(AFServerSocket<?> socket) {
    socket.setShutdownOnClose(false);
    socket.setDeleteOnClose(false);
  }

  /** A listening stream socket of the given family (-1: any). */
  private static void checkListening(int fd, int family, String what) throws ActivationException {
    int domain = Posix.socketOption(fd, Posix.SOL_SOCKET, Posix.SO_DOMAIN);
    int type = Posix.socketOption(fd, Posix.SOL_SOCKET, Posix.SO_TYPE);
    int listening = Posix.socketOption(fd, Posix.SOL_SOCKET, Posix.SO_ACCEPTCONN);
    if ((family != -1 && domain != family) || type != Posix.SOCK_STREAM || listening != 1) {
      throw new ActivationException("descriptor " + fd + " is not a listening stream socket for " + what);
    }
  }
}
