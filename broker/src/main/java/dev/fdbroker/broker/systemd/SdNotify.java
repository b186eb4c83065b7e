package dev.fdbroker.broker.systemd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.newsclub.net.unix.AFUNIXDatagramChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sd_notify protocol: state changes sent as one datagram of {@code KEY=value} lines to the
 * unix socket named by NOTIFY_SOCKET (a path, or {@code @name} in the abstract namespace). Without
 * NOTIFY_SOCKET every call does nothing. A notification that cannot be sent is logged, never fatal.
 */
public final class SdNotify implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SdNotify.class);

  private final AFUNIXSocketAddress target;
  private final AFUNIXDatagramChannel socket;

  private SdNotify(AFUNIXSocketAddress target, AFUNIXDatagramChannel socket) {
    this.target = target;
    this.socket = socket;
  }

  /** A notifier for NOTIFY_SOCKET, or a silent one if it is not set. */
  public static SdNotify fromEnvironment() {
    return fromEnvironment(System.getenv());
  }

  static SdNotify fromEnvironment(Map<String, String> env) {
    String name = env.get("NOTIFY_SOCKET");
    if (name == null || name.isEmpty()) {
      return new SdNotify(null, null);
    }
    try {
      AFUNIXSocketAddress address = name.startsWith("@")
          ? AFUNIXSocketAddress.inAbstractNamespace(name.substring(1))
          : AFUNIXSocketAddress.of(java.nio.file.Path.of(name));
      return new SdNotify(address, AFUNIXDatagramChannel.open());
    } catch (IOException e) {
      log.warn("NOTIFY_SOCKET={} is unusable, not notifying: {}", name, e.toString());
      return new SdNotify(null, null);
    }
  }

  public boolean enabled() {
    return socket != null;
  }

  /** READY=1: the policy is loaded and the socket is served. */
  public void ready(String status) {
    send("READY=1\nSTATUS=" + oneLine(status));
  }

  /** RELOADING=1: a reload has begun; {@link #ready} ends it. */
  public void reloading(String status) {
    send("RELOADING=1\nMONOTONIC_USEC=" + System.nanoTime() / 1000 + "\nSTATUS=" + oneLine(status));
  }

  /** STOPPING=1: shutdown has begun. */
  public void stopping(String status) {
    send("STOPPING=1\nSTATUS=" + oneLine(status));
  }

  /** STATUS=...: a short, human-readable summary for {@code systemctl status}. */
  public void status(String status) {
    send("STATUS=" + oneLine(status));
  }

  /** WATCHDOG=1 (still alive) with a fresh STATUS=. */
  public void watchdog(String status) {
    send("WATCHDOG=1\nSTATUS=" + oneLine(status));
  }

  private static String oneLine(String s) {
    return s.replace('\n', ' ');
  }

  private synchronized void send(String message) {
    if (socket == null) {
      return;
    }
    try {
      socket.send(ByteBuffer.wrap(message.getBytes(StandardCharsets.UTF_8)), target);
    } catch (IOException | RuntimeException e) {
      log.warn("sd_notify failed ({}): {}", message.lines().findFirst().orElse(""), e.toString());
    }
  }

  @Override
  public void close() {
    if (socket != null) {
      try {
        socket.close();
      } catch (IOException e) {
        // nothing left to tell
      }
    }
  }
}
