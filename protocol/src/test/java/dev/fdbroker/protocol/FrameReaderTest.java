package dev.fdbroker.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class FrameReaderTest {

  static byte[] frame(byte[] payload) {
    byte[] out = new byte[payload.length + 4];
    int n = payload.length;
    out[0] = (byte) (n >>> 24);
    out[1] = (byte) (n >>> 16);
    out[2] = (byte) (n >>> 8);
    out[3] = (byte) n;
    System.arraycopy(payload, 0, out, 4, n);
    return out;
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  static byte[] payload(Frame f) {
    return Arrays.copyOfRange(f.array(), f.offset(), f.offset() + f.length());
  }

  /** Hands out at most one byte per read, like a dribbling sender. */
  static InputStream oneByteAtATime(byte[] data) {
    return new ByteArrayInputStream(data) {
      @Override
      public synchronized int read(byte[] b, int off, int len) {
        return super.read(b, off, Math.min(len, 1));
      }
    };
  }

  @Test
  void readsConsecutiveFramesThenCleanEnd() throws IOException {
    byte[] a = "{\"op\":\"ping\"}".getBytes(StandardCharsets.UTF_8);
    byte[] b = new byte[10_000];
    Arrays.fill(b, (byte) 'x');
    FrameReader r = new FrameReader(new ByteArrayInputStream(concat(frame(a), frame(b), frame(a))));
    assertArrayEquals(a, payload(r.next()));
    assertArrayEquals(b, payload(r.next()));
    assertArrayEquals(a, payload(r.next()));
    assertNull(r.next());
  }

  @Test
  void reassemblesFramesDeliveredByteByByte() throws IOException {
    byte[] a = "hello".getBytes(StandardCharsets.UTF_8);
    byte[] b = new byte[5000];
    int[] midFrameReads = {0};
    FrameReader r = new FrameReader(oneByteAtATime(concat(frame(a), frame(b))), 65536, 16,
        midFrame -> {
          if (midFrame) {
            midFrameReads[0]++;
          }
        });
    assertArrayEquals(a, payload(r.next()));
    assertArrayEquals(b, payload(r.next()));
    assertNull(r.next());
    // Every read after a frame's first byte is reported as mid-frame, so a server can apply a deadline.
    assertEquals(8 + 5 + 5000 - 2, midFrameReads[0]);
  }

  @Test
  void acceptsMaximumFrameAndRefusesOneByteMore() throws IOException {
    byte[] max = new byte[65536];
    assertEquals(65536, new FrameReader(new ByteArrayInputStream(frame(max))).next().length());
    FramingException e = assertThrows(FramingException.class,
        () -> new FrameReader(new ByteArrayInputStream(frame(new byte[65537]))).next());
    assertEquals(ErrorCode.TOO_LARGE, e.code());
  }

  @Test
  void refusesHugeAndZeroLengths() {
    byte[] huge = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 1, 2, 3};
    FramingException e = assertThrows(FramingException.class,
        () -> new FrameReader(new ByteArrayInputStream(huge)).next());
    assertEquals(ErrorCode.TOO_LARGE, e.code());
    FramingException zero = assertThrows(FramingException.class,
        () -> new FrameReader(new ByteArrayInputStream(new byte[] {0, 0, 0, 0})).next());
    assertEquals(ErrorCode.BAD_REQUEST, zero.code());
  }

  @Test
  void endInsideHeaderOrPayloadIsAnError() {
    assertThrows(EOFException.class,
        () -> new FrameReader(new ByteArrayInputStream(new byte[] {0, 0})).next());
    byte[] truncated = Arrays.copyOf(frame(new byte[100]), 50);
    assertThrows(EOFException.class,
        () -> new FrameReader(new ByteArrayInputStream(truncated)).next());
  }

  @Test
  void shrinksItsBufferAfterALargeFrame() throws IOException {
    byte[] big = new byte[60_000];
    byte[] small = {'{', '}'};
    FrameReader r = new FrameReader(new ByteArrayInputStream(concat(frame(big), frame(small))),
        65536, 64, midFrame -> {});
    assertEquals(4 + 60_000, r.next().array().length); // the frame and its header, nothing more
    assertEquals(64, r.next().array().length);
  }
}
