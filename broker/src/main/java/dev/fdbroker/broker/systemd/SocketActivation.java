package dev.fdbroker.broker.systemd;

import dev.fdbroker.broker.posix.Posix;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * The sd_listen_fds protocol: a service manager (systemd, or systemd-socket-activate) that created
 * the listening socket passes it as descriptor 3, and says so with LISTEN_FDS (how many) and
 * LISTEN_PID (for which process: environment variables are inherited, descriptors meant for a
 * parent must not be taken by a child).
 */
public final class SocketActivation {
  /** SD_LISTEN_FDS_START: the first passed descriptor. */
  static final int FIRST_FD = 3;

  private SocketActivation() {}

  /** A socket-activation environment that cannot be used. */
  public static final class ActivationException extends IOException {
    private static final long serialVersionUID = 1L;

    ActivationException(String message) {
      super(message);
    }
  }

  /** The inherited listening socket, or empty when not socket-activated (no LISTEN_FDS). */
  public static Optional<AFUNIXServerSocket> listeningSocket() throws IOException {
    return listeningSocket(System.getenv(), ProcessHandle.current().pid());
  }

  static Optional<AFUNIXServerSocket> listeningSocket(Map<String, String> env, long pid) throws IOException {
    String fds = env.get("LISTEN_FDS");
    if (fds == null) {
      return Optional.empty();
    }
    String listenPid = env.get("LISTEN_PID");
    if (listenPid == null || !listenPid.equals(Long.toString(pid))) {
      throw new ActivationException("LISTEN_FDS is set but LISTEN_PID is " + listenPid + ", not this process ("
          + pid + "): the sockets were passed to another process");
    }
    if (!fds.equals("1")) {
      throw new ActivationException("expected exactly one socket from socket activation, got LISTEN_FDS="
          + fds + " (LISTEN_FDNAMES=" + env.get("LISTEN_FDNAMES") + "); fdbroker.socket should have one ListenStream=");
    }
    checkListeningUnixStream(FIRST_FD);
    AFUNIXServerSocket socket = FileDescriptorCast.unsafeUsing(FIRST_FD).as(AFUNIXServerSocket.class);
    // The socket file belongs to the service manager, which keeps listening on it after we stop.
    socket.setDeleteOnClose(false);
    return Optional.of(socket);
  }

  private static void checkListeningUnixStream(int fd) throws ActivationException {
    int domain = Posix.socketOption(fd, Posix.SOL_SOCKET, Posix.SO_DOMAIN);
    int type = Posix.socketOption(fd, Posix.SOL_SOCKET, Posix.SO_TYPE);
    int listening = Posix.socketOption(fd, Posix.SOL_SOCKET, Posix.SO_ACCEPTCONN);
    if (domain != Posix.AF_UNIX || type != Posix.SOCK_STREAM || listening != 1) {
      throw new ActivationException("descriptor " + fd + " is not a listening AF_UNIX stream socket"
          + " (check ListenStream= in fdbroker.socket, and Accept=no)");
    }
  }
}
