package dev.fdbroker.protocol;

import com.fasterxml.jackson.core.io.NumberOutput;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A JSON text assembled as bytes, for the encoders whose structure is fixed and which run once per
 * request or per path (replies, audit lines): fixed parts are copied, numbers written by Jackson's
 * {@link NumberOutput}, strings with Jackson's escaping ({@link JsonText}).
 *
 * <p>Each thread has one, reused ({@link #start}), so that the text itself ({@link #toBytes}) is the
 * only allocation. So one text at a time per thread, from {@link #start} to {@link #toBytes}: an
 * encoder calls nothing but these methods in between. A text that is used in place, never copied
 * out (the broker's reply frames), is written into a builder of its own, kept by its owner and
 * {@link #reset} for each text.
 */
public final class JsonBytes {
  private static final ThreadLocal<JsonBytes> OF_THIS_THREAD = ThreadLocal.withInitial(JsonBytes::new);
  private static final int INITIAL = 4096;
  /** A buffer grown past this (a huge path, once) is not kept for the next text. */
  private static final int KEPT = 64 * 1024;

  private byte[] buf = new byte[INITIAL];
  private int count;

  /** A builder of one's own, for texts used in place ({@link #array}). */
  public JsonBytes() {}

  /** This thread's builder, empty but for {@code reserved} leading bytes (a frame's header). */
  public static JsonBytes start(int reserved) {
    return OF_THIS_THREAD.get().reset(reserved);
  }

  /** This builder, emptied but for {@code reserved} leading bytes. */
  public JsonBytes reset(int reserved) {
    if (buf.length > KEPT) {
      buf = new byte[INITIAL];
    }
    count = 0;
    room(reserved);
    count = reserved;
    return this;
  }

  private void room(int n) {
    if (count + n > buf.length) {
      buf = Arrays.copyOf(buf, Math.max(count + n, buf.length * 2));
    }
  }

  public JsonBytes put(byte b) {
    room(1);
    buf[count++] = b;
    return this;
  }

  /** Bytes written as they are: a fixed part of the text. */
  public JsonBytes raw(byte[] bytes) {
    room(bytes.length);
    System.arraycopy(bytes, 0, buf, count, bytes.length);
    count += bytes.length;
    return this;
  }

  /** A text of US-ASCII characters written as it is (a number's text, say): no array made for it. */
  public JsonBytes rawAscii(String s) {
    int n = s.length();
    room(n);
    for (int i = 0; i < n; i++) {
      buf[count + i] = (byte) s.charAt(i);
    }
    count += n;
    return this;
  }

  public JsonBytes number(long v) {
    room(20);
    count = NumberOutput.outputLong(v, buf, count);
    return this;
  }

  /** {@code v} in exactly {@code width} digits, zero-padded; {@code v} must be non-negative and fit. */
  public JsonBytes digits(long v, int width) {
    room(width);
    for (int i = width - 1; i >= 0; i--) {
      buf[count + i] = (byte) ('0' + v % 10);
      v /= 10;
    }
    count += width;
    return this;
  }

  /** A JSON string (an unpaired surrogate written as U+FFFD), or {@code null} for null. */
  public JsonBytes string(String s) {
    if (s == null) {
      return raw(NULL);
    }
    room(JsonText.maxQuotedBytes(s));
    count = JsonText.quoted(buf, count, s);
    return this;
  }

  /**
   * A JSON string as {@link #string}, with the characters line-based tools take for line ends
   * escaped too ({@link JsonText#quotedOnOneLine}): for texts read line by line.
   */
  public JsonBytes stringOnOneLine(String s) {
    if (s == null) {
      return raw(NULL);
    }
    room(JsonText.maxQuotedBytes(s));
    count = JsonText.quotedOnOneLine(buf, count, s);
    return this;
  }

  /** The text, reserved bytes included, in an array of its own. */
  public byte[] toBytes() {
    return Arrays.copyOf(buf, count);
  }

  /**
   * The text in place: its first {@link #length} bytes, reserved ones included. The array is the
   * builder's, good until it is next written (or reset): it changes as the builder grows.
   */
  public byte[] array() {
    return buf;
  }

  /** How many bytes the text has, reserved ones included. */
  public int length() {
    return count;
  }

  /** {@code s} as US-ASCII bytes, for the fixed parts a text is made of. */
  public static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  private static final byte[] NULL = ascii("null");
}
