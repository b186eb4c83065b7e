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
    int payload = count - ProtocolLimits.HEADER_BYTES;
    buf[0] = (byte) (payload >>> 24);
    buf[1] = (byte) (payload >>> 16);
    buf[2] = (byte) (payload >>> 8);
    buf[3] = (byte) payload;
    return buf.length == count ? buf : java.util.Arrays.copyOf(buf, count);
  }

  int payloadSize() {
    return count - ProtocolLimits.HEADER_BYTES;
  }
}
