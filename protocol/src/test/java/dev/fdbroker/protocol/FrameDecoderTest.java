package dev.fdbroker.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The push side of framing, as a server's connection uses it: bytes in, whole frames out. */
class FrameDecoderTest {

  private static void feed(FrameDecoder d, byte[] bytes, int from, int to) {
    while (from < to) {
      int n = Math.min(to - from, d.writable());
      assertTrue(n > 0, "always room for at least one byte");
      System.arraycopy(bytes, from, d.array(), d.writeOffset(), n);
      d.received(n);
      from += n;
    }
  }

  private static byte[] payload(Frame f) {
    return Arrays.copyOfRange(f.array(), f.offset(), f.offset() + f.length());
  }

  @Test
  void holdsAPartialFrameUntilItsLastByteArrives() throws FramingException {
    byte[] a = FrameReaderTest.frame("{\"op\":\"ping\"}".getBytes());
    FrameDecoder d = new FrameDecoder(65536, 16);
    assertFalse(d.midFrame());
    feed(d, a, 0, a.length - 1);
    assertTrue(d.midFrame());
    assertNull(d.next(), "no frame before its last byte");
    feed(d, a, a.length - 1, a.length);
    assertArrayEquals("{\"op\":\"ping\"}".getBytes(), payload(d.next()));
    assertFalse(d.midFrame());
    assertNull(d.next());
  }

  @Test
  void givesPipelinedFramesOneAtATime() throws FramingException {
    byte[] both = FrameReaderTest.concat(FrameReaderTest.frame(new byte[] {'a'}), FrameReaderTest.frame(new byte[] {'b', 'c'}));
    FrameDecoder d = new FrameDecoder(65536, 64);
    feed(d, both, 0, both.length);
    assertArrayEquals(new byte[] {'a'}, payload(d.next()));
    assertArrayEquals(new byte[] {'b', 'c'}, payload(d.next()));
    assertNull(d.next());
  }

  @Test
  void growsForALargeFrameOnlyOnceItsHeaderIsValidThenShrinksBack() throws FramingException {
    byte[] big = FrameReaderTest.frame(new byte[40_000]);
    FrameDecoder d = new FrameDecoder(65536, 32);
    feed(d, big, 0, 4);
    assertEquals(4 + 40_000, d.array().length, "room for exactly the announced frame");
    feed(d, big, 4, big.length);
    assertEquals(40_000, d.next().length());
    assertEquals(32, d.array().length, "an idle connection keeps only the initial buffer");
  }

  @Test
  void anEmptyOrOversizedHeaderIsAFramingErrorWithoutGrowing() {
    FrameDecoder d = new FrameDecoder(100, 16);
    feed(d, new byte[] {0, 0, 0, 101}, 0, 4);
    assertEquals(16, d.array().length, "an oversized announcement allocates nothing");
    assertEquals(ErrorCode.TOO_LARGE, assertThrows(FramingException.class, d::next).code());
    FrameDecoder e = new FrameDecoder(100, 16);
    feed(e, new byte[] {0, 0, 0, 0}, 0, 4);
    assertEquals(ErrorCode.BAD_REQUEST, assertThrows(FramingException.class, e::next).code());
  }

  @Test
  void refusesToBeToldOfMoreBytesThanItHadRoomFor() {
    FrameDecoder d = new FrameDecoder(100, 8);
    assertThrows(IllegalArgumentException.class, () -> d.received(d.writable() + 1));
    assertThrows(IllegalArgumentException.class, () -> d.received(-1));
  }

  @Test
  void releasedWhileQuietItHoldsNothingAndStillCutsFrames() throws FramingException {
    byte[] a = FrameReaderTest.frame("{\"op\":\"ping\"}".getBytes());
    FrameDecoder d = new FrameDecoder(65536, 16);
    feed(d, a, 0, a.length);
    assertArrayEquals("{\"op\":\"ping\"}".getBytes(), payload(d.next()));
    d.release();
    assertFalse(d.midFrame());
    assertEquals(16, d.writable(), "the initial buffer again, once bytes are to be received");
    feed(d, a, 0, 3);
    d.release(); // part of a frame is held: kept
    assertTrue(d.midFrame());
    feed(d, a, 3, a.length);
    assertArrayEquals("{\"op\":\"ping\"}".getBytes(), payload(d.next()));
  }
}
