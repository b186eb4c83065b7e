package dev.fdbroker.client.nio;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The URIs of the {@code fdbroker} scheme: {@code fdbroker:SOCKET} names a file system by the path
 * of the broker's socket, and {@code fdbroker:SOCKET!PATH} a path in it, as {@code jar:} URIs name
 * an entry of an archive. A {@code !} in the socket's path is written {@code %21}; the first {@code
 * !/} ends the socket's part, so the path's part may hold anything.
 */
final class BrokerUris {
  static final String SCHEME = "fdbroker";
  private static final String SEPARATOR = "!/";

  private BrokerUris() {}

  /**
   * The socket a URI of this scheme names, normalized.
   *
   * @throws IllegalArgumentException not an {@code fdbroker:} URI with an absolute socket path
   */
  static Path socket(URI uri) {
    String raw = rawPath(uri);
    int end = raw.indexOf(SEPARATOR);
    return Path.of(decode(end < 0 ? raw : raw.substring(0, end), uri)).normalize();
  }

  /**
   * The path in the file system a URI of this scheme names.
   *
   * @throws IllegalArgumentException it names none (no {@code !/} part), or is not an {@code
   *     fdbroker:} URI
   */
  static String path(URI uri) {
    String raw = rawPath(uri);
    int end = raw.indexOf(SEPARATOR);
    if (end < 0) {
      throw new IllegalArgumentException("URI names no path in the file system (SOCKET!/PATH): " + uri);
    }
    return decode(raw.substring(end + 1), uri);
  }

  /** The URI of {@code absolutePath} in the file system of the broker at {@code socket}. */
  static URI of(Path socket, String absolutePath) {
    String socketPart = quote(socket.toString()).replace("!", "%21");
    return URI.create(SCHEME + ":" + socketPart + "!" + quote(absolutePath));
  }

  private static String rawPath(URI uri) {
    if (!SCHEME.equalsIgnoreCase(uri.getScheme())) {
      throw new IllegalArgumentException("URI scheme is not \"" + SCHEME + "\": " + uri);
    }
    String raw = uri.getRawPath();
    if (uri.isOpaque() || raw == null || !raw.startsWith("/")) {
      throw new IllegalArgumentException("URI does not name the broker's socket by its absolute path"
          + " (fdbroker:/run/fdbroker/fdbroker.sock): " + uri);
    }
    if ((uri.getRawAuthority() != null && !uri.getRawAuthority().isEmpty())
        || uri.getRawQuery() != null || uri.getRawFragment() != null) {
      throw new IllegalArgumentException("URI has an authority, query or fragment: " + uri);
    }
    return raw;
  }

  /** A path's text as the path of a URI, with what a URI may not hold percent-encoded. */
  private static String quote(String path) {
    try {
      return new URI(null, null, path, null).getRawPath();
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  /** Percent-decodes a URI's raw path (as UTF-8). */
  private static String decode(String raw, URI whole) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(raw.length());
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (c != '%') {
        int end = Character.isHighSurrogate(c) && i + 1 < raw.length() ? i + 2 : i + 1;
        bytes.writeBytes(raw.substring(i, end).getBytes(StandardCharsets.UTF_8));
        i = end - 1;
        continue;
      }
      int hi = i + 2 < raw.length() ? Character.digit(raw.charAt(i + 1), 16) : -1;
      int lo = hi < 0 ? -1 : Character.digit(raw.charAt(i + 2), 16);
      if (lo < 0) {
        throw new IllegalArgumentException("URI path has a malformed escape: " + whole);
      }
      bytes.write(hi * 16 + lo);
      i += 2;
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }
}
