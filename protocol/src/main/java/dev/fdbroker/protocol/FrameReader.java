package dev.fdbroker.protocol;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;

/**
 * Reads length-prefixed frames (4-byte big-endian length, then that many bytes) from a blocking
 * stream, through a {@link FrameDecoder}. Reads as much as the stream offers, so a small frame
 * usually costs one read. Not thread-safe: one reader per connection.
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
  private final FrameDecoder decoder;
  private final Pacer pacer;
  private boolean ended;

  public FrameReader(InputStream in) {
    this(in, ProtocolLimits.MAX_FRAME_BYTES, 4096, NO_PACER);
  }

  /**
   * @param maxFrameBytes frames longer than this are refused with {@link ErrorCode#TOO_LARGE}
   * @param initialCapacity buffer size kept between frames; it grows for a large frame and shrinks
   *     back once that frame is consumed, so an idle connection holds only this much
   */
  public FrameReader(InputStream in, int maxFrameBytes, int initialCapacity, Pacer pacer) {
    this.in = in;
    this.decoder = new FrameDecoder(maxFrameBytes, initialCapacity);
    this.pacer = pacer;
  }

  /**
   * The next frame, or null if the stream ended cleanly between frames. The returned frame is
   * valid until the next call.
   *
   * @throws FramingException the header announces an empty or oversized frame
   * @throws EOFException the stream ended inside a frame
   */
  public Frame next() throws IOException {
    while (true) {
      Frame frame = decoder.next();
      if (frame != null) {
        return frame;
      }
      if (ended) {
        if (decoder.midFrame()) {
          throw new EOFException("stream ended inside a frame");
        }
        return null;
      }
      pacer.beforeRead(decoder.midFrame());
      int r = in.read(decoder.array(), decoder.writeOffset(), decoder.writable());
      if (r < 0) {
        ended = true;
      } else {
        decoder.received(r);
      }
    }
  }
}
