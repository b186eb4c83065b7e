package dev.fdbroker.protocol;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;

/**
 * Reads length-prefixed frames (4-byte big-endian length, then that many bytes) from a stream.
 * Reads as much as the stream offers into one buffer, so a small frame usually costs one read.
 * Not thread-safe: one reader per connection.
 */
public final class FrameReader {

  /** Called before every blocking read; lets a server apply idle and slow-sender deadlines. */
  @FunctionalInterface
  public interface Pacer {
    /**
     * @param midFrame false while waiting for the first byte of a frame, true once part of one has
     *     arrived
     */
    void beforeRead(boolean midFrame) throws IOException;
  }

  private static final Pacer NO_PACER = midFrame -> {};

  private final InputStream in;
  private final int maxFrameBytes;
  private final int initialCapacity;
  private final Pacer pacer;
  private byte[] buf;
  private int pos;
  private int lim;

  public FrameReader(InputStream in) {
    this(in, ProtocolLimits.MAX_FRAME_BYTES, 4096, NO_PACER);
  }

  /**
   * @param maxFrameBytes frames longer than this are refused with {@link ErrorCode#TOO_LARGE}
   * @param initialCapacity buffer size kept between frames; it grows for a large frame and shrinks
   *     back once that frame is consumed, so an idle connection holds only this much
   */
  public FrameReader(InputStream in, int maxFrameBytes, int initialCapacity, Pacer pacer) {
    if (maxFrameBytes < 1 || maxFrameBytes > ProtocolLimits.MAX_FRAME_BYTES) {
      throw new IllegalArgumentException("maxFrameBytes out of range: " + maxFrameBytes);
    }
    this.in = in;
    this.maxFrameBytes = maxFrameBytes;
    this.initialCapacity = Math.max(initialCapacity, ProtocolLimits.HEADER_BYTES);
    this.pacer = pacer;
    this.buf = new byte[this.initialCapacity];
  }

  /**
   * The next frame, or null if the stream ended cleanly between frames. The returned frame is
   * valid until the next call.
   *
   * @throws FramingException the header announces an empty or oversized frame
   * @throws EOFException the stream ended inside a frame
   */
  public Frame next() throws IOException {
    if (pos == lim) {
      pos = 0;
      lim = 0;
      if (buf.length > initialCapacity) {
        buf = new byte[initialCapacity];
      }
    }
    if (!fill(ProtocolLimits.HEADER_BYTES, true)) {
      return null;
    }
    long length = ((buf[pos] & 0xffL) << 24)
        | ((buf[pos + 1] & 0xff) << 16)
        | ((buf[pos + 2] & 0xff) << 8)
        | (buf[pos + 3] & 0xff);
    if (length == 0) {
      throw new FramingException(ErrorCode.BAD_REQUEST, "empty frame (length 0)");
    }
    if (length > maxFrameBytes) {
      throw new FramingException(
          ErrorCode.TOO_LARGE,
          "frame of " + length + " bytes is over the limit of " + maxFrameBytes);
    }
    int n = (int) length;
    pos += ProtocolLimits.HEADER_BYTES;
    fill(n, false);
    Frame frame = new Frame(buf, pos, n);
    pos += n;
    return frame;
  }

  /**
   * Makes {@code need} bytes available from {@code pos}. Returns false only if the stream ended
   * before the first byte of a frame.
   */
  private boolean fill(int need, boolean atFrameStart) throws IOException {
    if (lim - pos >= need) {
      return true;
    }
    if (buf.length - pos < need) {
      byte[] target = buf.length >= need ? buf : new byte[Math.max(need, Math.min(buf.length * 2,
          maxFrameBytes + ProtocolLimits.HEADER_BYTES))];
      System.arraycopy(buf, pos, target, 0, lim - pos);
      lim -= pos;
      pos = 0;
      buf = target;
    }
    while (lim - pos < need) {
      pacer.beforeRead(!atFrameStart || lim > pos);
      int r = in.read(buf, lim, buf.length - lim);
      if (r < 0) {
        if (atFrameStart && lim == pos) {
          return false;
        }
        throw new EOFException("stream ended inside a frame");
      }
      lim += r;
    }
    return true;
  }
}
