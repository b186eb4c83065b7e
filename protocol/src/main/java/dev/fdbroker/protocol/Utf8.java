package dev.fdbroker.protocol;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Strict UTF-8 validation. Jackson's parser decodes some invalid sequences (overlong forms such as
 * {@code C0 AF} for '/'), so a frame is checked with the JDK's strict decoder before it is parsed.
 */
final class Utf8 {
  private Utf8() {}

  /** Why the frame is not valid UTF-8, or null if it is. */
  static String problem(Frame frame) {
    byte[] a = frame.array();
    int end = frame.offset() + frame.length();
    int i = frame.offset();
    while (i < end && a[i] >= 0) {
      i++;
    }
    if (i == end) {
      return null; // all ASCII, the common case
    }
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(a, i, end - i);
    CharBuffer out = CharBuffer.allocate(Math.min(end - i, 1024));
    while (true) {
      CoderResult r = decoder.decode(in, out, true);
      if (r.isError()) {
        return "request is not valid UTF-8 (at byte " + (in.position() - frame.offset()) + ")";
      }
      if (r.isUnderflow()) {
        return null;
      }
      out.clear();
    }
  }
}
