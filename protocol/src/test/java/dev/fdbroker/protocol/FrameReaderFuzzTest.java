package dev.fdbroker.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * Fuzzes {@link FrameReader} with arbitrary byte streams, delivered whole or a few bytes per read,
 * under arbitrary frame limits and buffer sizes. Every outcome is checked against an independent
 * model of the framing: the reader must return exactly the frames the model finds (length 1 to the
 * limit, same bytes), then null at a clean end, or throw the {@link FramingException} (with the
 * right code) or {@link EOFException} the model predicts. Any other exception, or a read that could
 * not make progress, is a finding.
 *
 * <p>Runs as a real fuzzer in the build's "fuzz" surefire execution (JAZZER_FUZZ=1); elsewhere it
 * replays the inputs under src/test/resources.
 */
class FrameReaderFuzzTest {

  @FuzzTest(maxDuration = "20s")
  void readsOnlyWellFormedFrames(FuzzedDataProvider data) throws IOException {
    int maxFrameBytes = switch (data.consumeInt(0, 3)) {
      case 0 -> ProtocolLimits.MAX_FRAME_BYTES;
      case 1 -> data.consumeInt(1, 16);
      default -> data.consumeInt(1, ProtocolLimits.MAX_FRAME_BYTES);
    };
    int initialCapacity = data.consumeInt(0, 64);
    // Chunk sizes cycled through by the stream: 0 means "as much as is asked for".
    byte[] chunks = data.consumeBytes(data.consumeInt(0, 8));
    byte[] input = data.consumeRemainingAsBytes();

    ChunkedStream in = new ChunkedStream(input, chunks);
    FrameReader reader = new FrameReader(in, maxFrameBytes, initialCapacity, midFrame -> {});

    int at = 0; // the model's position in input
    for (int frames = 0; ; frames++) {
      // Each frame consumes at least 5 bytes, so a reader that keeps returning frames is broken.
      assertTrue(frames <= input.length / 5, "more frames than the input can hold");
      int remaining = input.length - at;
      Frame frame;
      try {
        frame = reader.next();
      } catch (FramingException e) {
        assertTrue(remaining >= ProtocolLimits.HEADER_BYTES, "FramingException without a full header");
        long length = header(input, at);
        if (length == 0) {
          assertEquals(ErrorCode.BAD_REQUEST, e.code());
        } else {
          assertTrue(length > maxFrameBytes, "refused a frame of " + length + " bytes: " + e.getMessage());
          assertEquals(ErrorCode.TOO_LARGE, e.code());
        }
        return; // framing is lost: the connection would be closed
      } catch (EOFException e) {
        assertTrue(remaining > 0, "EOFException at a clean end of stream");
        if (remaining >= ProtocolLimits.HEADER_BYTES) {
          long length = header(input, at);
          assertTrue(length >= 1 && length <= maxFrameBytes, "EOF reported for an invalid header");
          assertTrue(remaining - ProtocolLimits.HEADER_BYTES < length, "EOF although the frame was complete");
        }
        return;
      } catch (IOException e) {
        fail("unexpected IOException", e);
        return;
      }
      if (frame == null) {
        assertEquals(0, remaining, "null (clean end) with bytes left in the stream");
        // The end stays the end.
        assertNull(reader.next());
        return;
      }
      assertTrue(remaining >= ProtocolLimits.HEADER_BYTES, "frame returned without a full header");
      long length = header(input, at);
      assertTrue(frame.length() >= 1 && frame.length() <= ProtocolLimits.MAX_FRAME_BYTES,
          "frame length out of protocol range: " + frame.length());
      assertTrue(frame.length() <= maxFrameBytes, "frame over the configured limit");
      assertEquals(length, frame.length(), "frame length differs from its header");
      assertNotNull(frame.array());
      assertTrue(frame.offset() >= 0 && frame.offset() + frame.length() <= frame.array().length,
          "frame view outside its array");
      int payload = at + ProtocolLimits.HEADER_BYTES;
      assertArrayEquals(Arrays.copyOfRange(input, payload, payload + frame.length()),
          Arrays.copyOfRange(frame.array(), frame.offset(), frame.offset() + frame.length()),
          "frame payload differs from the input");
      at = payload + frame.length();
    }
  }

  private static long header(byte[] b, int at) {
    return ((b[at] & 0xffL) << 24) | ((b[at + 1] & 0xffL) << 16) | ((b[at + 2] & 0xffL) << 8) | (b[at + 3] & 0xffL);
  }

  /** Returns the input in pieces of the given sizes (cycled), like a socket under load would. */
  private static final class ChunkedStream extends InputStream {
    private final byte[] data;
    private final byte[] chunks;
    private int pos;
    private int nextChunk;

    ChunkedStream(byte[] data, byte[] chunks) {
      this.data = data;
      this.chunks = chunks;
    }

    @Override
    public int read() {
      return pos < data.length ? data[pos++] & 0xff : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      // A blocking stream may return 0 for len 0, and a reader that asks for 0 bytes would spin.
      assertTrue(len > 0, "FrameReader asked for " + len + " bytes");
      assertTrue(off >= 0 && off + len <= b.length, "read outside the buffer");
      if (pos == data.length) {
        return -1;
      }
      int n = Math.min(len, data.length - pos);
      if (chunks.length > 0) {
        int chunk = chunks[nextChunk++ % chunks.length] & 0x0f; // 1..15 bytes, 0 = unlimited
        if (chunk > 0) {
          n = Math.min(n, chunk);
        }
      }
      System.arraycopy(data, pos, b, off, n);
      pos += n;
      return n;
    }
  }
}
