package dev.fdbroker.protocol;

import com.fasterxml.jackson.core.io.CharTypes;
import com.fasterxml.jackson.core.io.JsonStringEncoder;

/**
 * JSON string values written straight into a byte array, for the encoders that run once per
 * request or per path (replies, audit lines). The escaping is Jackson's: a string Jackson's
 * escape table passes unchanged (printable ASCII without quote or backslash, the common case for
 * paths) is copied as is; any other goes through Jackson's {@link JsonStringEncoder}.
 */
public final class JsonText {
  private static final int[] ESCAPES = CharTypes.get7BitOutputEscapes();
  private static final JsonStringEncoder STRINGS = JsonStringEncoder.getInstance();

  private JsonText() {}

  /**
   * The most bytes {@link #quoted} may write for {@code s}: six per char (a control character is
   * escaped as a backslash, a u and four hex digits; UTF-8 takes at most three bytes per char), and
   * the quotes.
   */
  public static int maxQuotedBytes(String s) {
    return 6 * s.length() + 2;
  }

  /**
   * Exactly how many bytes {@link #quoted} writes for {@code s}, quotes included (an unpaired
   * surrogate counts as U+FFFD, three bytes).
   */
  public static int quotedBytes(String s) {
    int n = 2 + PathSyntax.utf8Length(s);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80 && ESCAPES[c] != 0) {
        n += ESCAPES[c] > 0 ? 1 : 5; // a backslash and a letter, or a backslash, a u and four hex digits
      }
    }
    return n;
  }

  /**
   * Writes {@code s} as a JSON string, quotes included, at {@code b[n]}, which must have room for
   * {@link #maxQuotedBytes}; returns the index after it. An unpaired surrogate is written as
   * U+FFFD ({@link #wellFormed}).
   */
  public static int quoted(byte[] b, int n, String s) {
    b[n] = '"';
    int end = escaped(b, n + 1, s, 0, s.length());
    b[end] = '"';
    return end + 1;
  }

  /**
   * As {@link #quoted}, and also escapes U+0085 (NEL), U+2028 and U+2029 (each as a backslash, a
   * u and four hex digits): JSON lets them stand raw in a string, but line-based tools
   * (Python's splitlines, some log shippers, JavaScript before ES2019) take them for line ends, so
   * a value holding one would split a JSON line in two for them. For texts read line by line.
   */
  public static int quotedOnOneLine(byte[] b, int n, String s) {
    // Printable ASCII (the usual path) holds no such character: then one pass, as quoted() makes.
    int length = s.length();
    for (int i = 0; i < length; i++) {
      char c = s.charAt(i);
      if (c >= 0x80 || ESCAPES[c] != 0) {
        return quotedOnOneLineEscaping(b, n, s);
      }
      b[n + 1 + i] = (byte) c;
    }
    b[n] = '"';
    b[n + 1 + length] = '"';
    return n + length + 2;
  }

  private static int quotedOnOneLineEscaping(byte[] b, int n, String s) {
    b[n] = '"';
    int end = n + 1;
    int from = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\u0085' || c == '\u2028' || c == '\u2029') {
        end = escaped(b, end, s, from, i);
        b[end++] = '\\';
        b[end++] = 'u';
        for (int shift = 12; shift >= 0; shift -= 4) {
          b[end++] = (byte) Character.forDigit((c >> shift) & 0xf, 16);
        }
        from = i + 1;
      }
    }
    end = escaped(b, end, s, from, s.length());
    b[end] = '"';
    return end + 1;
  }

  /**
   * Writes {@code s[from, to)} escaped, without quotes, at {@code b[n]}; returns the index after it.
   * (A line-end char splits a string only between whole chars of the BMP, never inside a pair.)
   */
  private static int escaped(byte[] b, int n, String s, int from, int to) {
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (c >= 0x80 || ESCAPES[c] != 0) {
        byte[] escaped = STRINGS.quoteAsUTF8(wellFormed(s.substring(from, to)));
        System.arraycopy(escaped, 0, b, n, escaped.length);
        return n + escaped.length;
      }
      b[n + i - from] = (byte) c;
    }
    return n + to - from;
  }

  /**
   * {@code s} with every unpaired surrogate replaced by U+FFFD. JSON text must be valid Unicode,
   * but a Java string need not be: a request can carry a lone surrogate as a {@code \ud800}
   * escape (such a path is refused as malformed, and echoed back in the reply and the audit log).
   * Replacing a char with a char keeps {@link #maxQuotedBytes} a bound.
   */
  public static String wellFormed(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isSurrogate(c)) {
        if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
          i++;
          continue;
        }
        return replaceUnpairedSurrogates(s);
      }
    }
    return s;
  }

  private static String replaceUnpairedSurrogates(String s) {
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        b.append(c).append(s.charAt(++i));
      } else {
        b.append(Character.isSurrogate(c) ? '\ufffd' : c);
      }
    }
    return b.toString();
  }
}
