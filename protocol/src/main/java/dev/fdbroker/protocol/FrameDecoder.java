package dev.fdbroker.protocol;

/**
 * Cuts length-prefixed frames (4-byte big-endian length, then that many bytes) out of bytes as they
 * arrive, for a reader that is handed bytes rather than blocking for them: a server's event loop, or
 * {@link FrameReader} over a stream. The caller receives into {@link #array()} at
 * {@link #writeOffset()} (at most {@link #writable()} bytes), reports how many with
 * {@link #received(int)}, then takes complete frames with {@link #next()}.
 *
 * <p>The buffer holds a small frame or a few pipelined ones at its initial size; it grows to fit a
 * large frame once that frame's header has arrived (never beyond the frame limit) and shrinks back
 * once the large frame is consumed, so an idle connection holds only the initial size, and nothing
 * at all once {@link #release released} while quiet. Not thread-safe: one decoder per connection.
 */
public final class FrameDecoder {
  private static final byte[] NONE = new byte[0];
  private final int maxFrameBytes;
  private final int initialCapacity;
  private byte[] buf;
  private int pos;
  private int lim;

  /**
   * @param maxFrameBytes frames longer than this are refused with {@link ErrorCode#TOO_LARGE}
   * @param initialCapacity buffer size kept between frames
   */
  public FrameDecoder(int maxFrameBytes, int initialCapacity) {
    if (maxFrameBytes < 1 || maxFrameBytes > ProtocolLimits.MAX_FRAME_BYTES) {
      throw new IllegalArgumentException("maxFrameBytes out of range: " + maxFrameBytes);
    }
    this.maxFrameBytes = maxFrameBytes;
    this.initialCapacity = Math.max(initialCapacity, ProtocolLimits.HEADER_BYTES);
    this.buf = new byte[this.initialCapacity];
  }

  /**
   * The next complete frame among the bytes received, or null if more bytes are needed. The frame
   * is a view of this decoder's buffer, valid until the next call to any method here.
   *
   * @throws FramingException the header announces an empty or oversized frame; framing is lost
   */
  public Frame next() throws FramingException {
    if (lim - pos < ProtocolLimits.HEADER_BYTES) {
      return null;
    }
    int n = length(buf, pos, maxFrameBytes);
    if (lim - pos - ProtocolLimits.HEADER_BYTES < n) {
      return null;
    }
    Frame frame = new Frame(buf, pos + ProtocolLimits.HEADER_BYTES, n);
    pos += ProtocolLimits.HEADER_BYTES + n;
    return frame;
  }

  /**
   * Gives the buffer up if nothing is held (no bytes of a next frame): for a connection that goes
   * quiet, whose decoder may wait long for its next request. The next receive allocates the initial
   * size again.
   */
  public void release() {
    if (pos == lim) {
      pos = 0;
      lim = 0;
      buf = NONE;
    }
  }

  /** Whether part of a frame has arrived (bytes are held that do not yet make a frame). */
  public boolean midFrame() {
    return lim > pos;
  }

  /** The array to receive into, at {@link #writeOffset()}. Valid until the next call here. */
  public byte[] array() {
    prepare();
    return buf;
  }

  /** Where in {@link #array()} the next bytes go. */
  public int writeOffset() {
    prepare();
    return lim;
  }

  /** How many bytes may be received now: always at least one. */
  public int writable() {
    prepare();
    return buf.length - lim;
  }

  /** Records that {@code n} bytes were written into {@link #array()} at {@link #writeOffset()}. */
  public void received(int n) {
    if (n < 0 || n > buf.length - lim) {
      throw new IllegalArgumentException("received " + n + " bytes into room for " + (buf.length - lim));
    }
    lim += n;
  }

  /**
   * Makes room for the next bytes: back to the start of a small buffer once everything is consumed;
   * else, the pending bytes moved to the front of a buffer large enough for the whole of their frame
   * (when its header is known and valid) or for at least one more byte.
   */
  private void prepare() {
    if (pos == lim) {
      pos = 0;
      lim = 0;
      if (buf.length != initialCapacity) { // grown for a large frame, or released
        buf = new byte[initialCapacity];
      }
      return;
    }
    int need = ProtocolLimits.HEADER_BYTES;
    if (lim - pos >= ProtocolLimits.HEADER_BYTES) {
      long announced = header(buf, pos);
      if (announced >= 1 && announced <= maxFrameBytes) {
        need += (int) announced;
      }
    }
    need = Math.max(need, lim - pos + 1);
    if (buf.length - pos >= need) {
      if (lim < buf.length) {
        return;
      }
    }
    byte[] target = buf.length >= need ? buf : new byte[Math.max(need, Math.min(buf.length * 2,
        maxFrameBytes + ProtocolLimits.HEADER_BYTES))];
    System.arraycopy(buf, pos, target, 0, lim - pos);
    lim -= pos;
    pos = 0;
    buf = target;
  }

  /**
   * The payload length announced by the header at {@code b[at]}.
   *
   * @throws FramingException the length is 0, or over {@code maxFrameBytes}
   */
  public static int length(byte[] b, int at, int maxFrameBytes) throws FramingException {
    long length = header(b, at);
    if (length == 0) {
      throw new FramingException(ErrorCode.BAD_REQUEST, "empty frame (length 0)");
    }
    if (length > maxFrameBytes) {
      throw new FramingException(
          ErrorCode.TOO_LARGE,
          "frame of " + length + " bytes is over the limit of " + maxFrameBytes);
    }
    return (int) length;
  }

  private static long header(byte[] b, int at) {
    return ((b[at] & 0xffL) << 24) | ((b[at + 1] & 0xffL) << 16) | ((b[at + 2] & 0xffL) << 8) | (b[at + 3] & 0xffL);
  }
}
