package dev.fdbroker.protocol;

import com.fasterxml.jackson.core.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * Decodes request frames one after another with one Jackson parser kept between them, instead of a
 * parser set up per frame ({@link RequestCodec#decode}): setting one up (its context, its child of
 * the field-name table, its text buffer, its read contexts) was about 730 of the 1,100 bytes that
 * decoding a one-path request allocated, a quarter of what the broker allocated per request.
 *
 * <p>The kept parser is the same blocking parser a frame of its own gets, reading a stream that
 * hands it one whole frame at a time ({@link FrameInput}): after a frame's object it reads nothing
 * until the next frame is there. It serves only requests that decode cleanly: anything else
 * (broken JSON, a refused request, bytes after the object, a frame that ends inside it) is decided
 * again by {@link RequestCodec#decode}, whose verdict and message are the reference, and the kept
 * parser is dropped, so that a failure leaves nothing behind for the next frame. A request that
 * decodes cleanly names no field but the protocol's five, so the parser's field-name table holds
 * nothing a caller chose. Jackson counts the whole stream against its document limit, so the
 * parser is replaced before that much has gone through it.
 *
 * <p>Not Jackson's non-blocking parser, which would take a frame as it is: it gives {@code -0} the
 * text {@code 0} (a numeric id must be echoed exactly), found by RequestDecoderTest comparing it
 * with the blocking parser; another implementation of the grammar could differ in more.
 *
 * <p>Not thread-safe: one per thread (the broker keeps one per serving thread).
 */
public final class RequestDecoder {
  /** The most bytes one parser reads: Jackson's document limit, which it applies to the whole stream. */
  private static final long PARSER_BYTES = Json.REQUESTS.streamReadConstraints().getMaxDocumentLength();
  /**
   * Fewer bytes than a new parser reads to tell the encoding: it would then read again, find the
   * end of the stream, and be of no use for the next frame. No request is that short.
   */
  private static final int SHORTEST = 4;
  private static final OutputStream NOWHERE = OutputStream.nullOutputStream();

  private final RequestFields fields = new RequestFields();
  private final FrameInput input = new FrameInput();
  private JsonParser parser;
  /** Bytes {@link #parser} has been given so far. */
  private long fed;

  /**
   * Decodes one request, exactly as {@link RequestCodec#decode} would.
   *
   * @param maxPaths the most paths an open or stat request may carry
   */
  public Request decode(Frame frame, int maxPaths) throws BadRequestException {
    Request request = Utf8.problem(frame, "request") == null ? decodeClean(frame, maxPaths) : null;
    return request != null ? request : RequestCodec.decode(frame, maxPaths);
  }

  /** The request, if the frame holds one clean request; else null, and the parser is dropped. */
  private Request decodeClean(Frame frame, int maxPaths) {
    byte[] a = frame.array();
    int from = frame.offset();
    int end = from + frame.length();
    // Whitespace after the object is left out, so that the parser has read the whole frame when the
    // object ends, or something else followed it. (Whitespace before it, the parser skips.)
    while (end > from && isJsonWhitespace(a[end - 1])) {
      end--;
    }
    if (end - from < SHORTEST) {
      return null;
    }
    try {
      input.frame(a, from, end);
      if (parser == null || fed + (end - from) > PARSER_BYTES) {
        drop();
        parser = Json.REQUESTS.createParser(input);
        fed = 0;
      }
      fed += end - from;
      fields.read(parser, maxPaths);
      if (!input.consumed() || parser.releaseBuffered(NOWHERE) > 0) {
        drop(); // something follows the object
        return null;
      }
      return fields.verdict();
    } catch (IOException | BadRequestException | RuntimeException e) {
      drop();
      return null;
    }
  }

  private static boolean isJsonWhitespace(byte b) {
    return b == ' ' || b == '\n' || b == '\r' || b == '\t';
  }

  /** Lets go of the parser (its buffers go back to Jackson's pool); the next frame gets a new one. */
  private void drop() {
    if (parser != null) {
      try {
        parser.close();
      } catch (IOException e) {
        // the stream's close does nothing
      }
      parser = null;
    }
  }

  /**
   * The kept parser's input: the current frame's bytes, then the end of the stream. The parser asks
   * for more only inside a value (the frame ended too soon: it then fails, and is dropped) or when
   * the next token is wanted, which is only once the next frame is here.
   */
  private static final class FrameInput extends InputStream {
    private byte[] bytes = new byte[0];
    private int pos;
    private int end;

    void frame(byte[] bytes, int from, int end) {
      this.bytes = bytes;
      this.pos = from;
      this.end = end;
    }

    /** Whether the parser has taken every byte of the frame. */
    boolean consumed() {
      return pos == end;
    }

    @Override
    public int read() {
      return pos < end ? bytes[pos++] & 0xff : -1;
    }

    @Override
    public int read(byte[] into, int offset, int length) {
      if (length == 0) {
        return 0;
      }
      if (pos == end) {
        return -1;
      }
      int n = Math.min(length, end - pos);
      System.arraycopy(bytes, pos, into, offset, n);
      pos += n;
      return n;
    }
  }
}
