package dev.fdbroker.protocol;

import java.io.ByteArrayOutputStream;

/**
 * Collects one frame: a header placeholder, then the payload, so that the whole frame can go out in
 * a single write (and, with descriptors attached, a single sendmsg).
 */
final class FrameBuffer extends ByteArrayOutputStream {

  FrameBuffer(int initialCapacity) {
    super(initialCapacity);
    count = ProtocolLimits.HEADER_BYTES;
  }

  /** Fills in the header and returns the frame's bytes (header included). */
  byte[] finish() {
    putHeader(buf, count - ProtocolLimits.HEADER_BYTES);
    return buf.length == count ? buf : java.util.Arrays.copyOf(buf, count);
  }

  /** Writes a frame's header, the payload's length (big-endian), at the start of {@code frame}. */
  static void putHeader(byte[] frame, int payloadBytes) {
    frame[0] = (byte) (payloadBytes >>> 24);
    frame[1] = (byte) (payloadBytes >>> 16);
    frame[2] = (byte) (payloadBytes >>> 8);
    frame[3] = (byte) payloadBytes;
  }

  int payloadSize() {
    return count - ProtocolLimits.HEADER_BYTES;
  }
}
