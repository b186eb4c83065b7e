package dev.fdbroker.protocol;

/** The fixed bounds of wire protocol v1. A broker may be configured tighter, never looser. */
public final class ProtocolLimits {
  /** The protocol version this code speaks. */
  public static final int PROTOCOL_VERSION = 1;

  /** Largest frame payload in either direction, in bytes. */
  public static final int MAX_FRAME_BYTES = 65536;

  /** Most paths one open or stat request may name. */
  public static final int MAX_PATHS_PER_REQUEST = 64;

  /** Longest list cursor, in characters (printable ASCII). */
  public static final int MAX_CURSOR_CHARS = 128;

  /** Longest path, in UTF-8 bytes (PATH_MAX including the terminating NUL). */
  public static final int MAX_PATH_BYTES = 4096;

  /** Longest string id; numeric ids are bounded by {@value #MAX_NUMBER_CHARS} digits. */
  public static final int MAX_ID_CHARS = 256;

  /** Longest number text accepted anywhere in a request. */
  public static final int MAX_NUMBER_CHARS = 64;

  /** Length of the frame header: a 4-byte big-endian payload length. */
  public static final int HEADER_BYTES = 4;

  private ProtocolLimits() {}
}
