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
 *
 * <p>A NUL byte is refused too: UTF-8 JSON text never holds one, and Jackson's encoding detection
 * reads a byte array with zero bytes among its first four as UTF-16 or UTF-32, which would parse a
 * text this check never saw.
 */
final class Utf8 {
  private Utf8() {}

  /**
   * Why the frame is not valid UTF-8 (or holds a NUL byte), or null if it is.
   *
   * @param what "request" or "reply", for the message
   */
  static String problem(Frame frame, String what) {
    byte[] a = frame.array();
    int end = frame.offset() + frame.length();
    int firstNonAscii = -1;
    for (int j = frame.offset(); j < end; j++) {
      byte b = a[j];
      if (b == 0) {
        return what + " contains a NUL byte (at byte " + (j - frame.offset())
            + "); it must be UTF-8 JSON, not UTF-16 or UTF-32";
      }
      if (b < 0 && firstNonAscii < 0) {
        firstNonAscii = j;
      }
    }
    if (firstNonAscii < 0) {
      return null; // all ASCII, the common case
    }
    int i = firstNonAscii;
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(a, i, end - i);
    CharBuffer out = CharBuffer.allocate(Math.min(end - i, 1024));
    while (true) {
      CoderResult r = decoder.decode(in, out, true);
      if (r.isError()) {
        return what + " is not valid UTF-8 (at byte " + (in.position() - frame.offset()) + ")";
      }
      if (r.isUnderflow()) {
        return null;
      }
      out.clear();
    }
  }
}
