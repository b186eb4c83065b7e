package dev.fdbroker.broker.policy;

/**
 * The forms {@code metrics.listen} takes: {@code unix:/absolute/path}, {@code host:port} with an
 * IPv4 literal or {@code localhost}, {@code [ipv6]:port}, or {@code systemd} (the socket that
 * fdbroker-metrics.socket passes).
 */
public final class MetricsAddress {
  /** The socket-activated metrics socket. */
  public static final String SYSTEMD = "systemd";

  private MetricsAddress() {}

  /** Why {@code listen} is not a valid address, or null. */
  public static String problem(String listen) {
    if (listen.equals(SYSTEMD)) {
      return null;
    }
    if (listen.startsWith("unix:")) {
      String path = listen.substring(5);
      return path.startsWith("/") ? null : "a unix socket address needs an absolute path (unix:/run/...)";
    }
    int colon = listen.lastIndexOf(':');
    if (colon <= 0) {
      return "expected host:port (e.g. 127.0.0.1:9464), unix:/path, or systemd";
    }
    String host = listen.substring(0, colon);
    String port = listen.substring(colon + 1);
    if (!port.matches("[0-9]{1,5}") || Integer.parseInt(port) < 1 || Integer.parseInt(port) > 65535) {
      return "port must be 1-65535, not \"" + port + "\"";
    }
    boolean ipv6 = host.startsWith("[") && host.endsWith("]") && host.length() > 2;
    boolean ipv4 = host.matches("[0-9]{1,3}(\\.[0-9]{1,3}){3}");
    if (!ipv6 && !ipv4 && !host.equals("localhost")) {
      return "host must be an IP address literal (or localhost), not \"" + host + "\"";
    }
    return null;
  }
}
