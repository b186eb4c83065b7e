package dev.fdbroker.broker.replay;

import com.fasterxml.jackson.core.io.JsonStringEncoder;

/**
 * Values in the replay's output. Paths, user names, units and rule names come from the log and can
 * hold anything, so any that could be misread (a space would split a field, a newline a line, a
 * parenthesis would look like the user after a uid) is printed as a JSON string instead; an
 * ordinary one is printed as it is, to be read and grepped as it is.
 */
final class ReplayText {
  private ReplayText() {}

  /** {@code s} as it is if it is plain, else as a JSON string. */
  static String value(String s) {
    return isPlain(s) ? s : quoted(s);
  }

  /**
   * {@code s} as a JSON string, with Jackson's escapes, and also escaping what would break or hide
   * in a line of terminal output: U+007F to U+009F, U+2028, U+2029, format characters (such as
   * the invisible U+200B and the reordering U+202E) and unpaired surrogates.
   */
  static String quoted(String s) {
    char[] escaped = JsonStringEncoder.getInstance().quoteAsString(s);
    StringBuilder b = new StringBuilder(escaped.length + 2).append('"');
    for (int i = 0; i < escaped.length; i++) {
      char c = escaped[i];
      boolean paired = Character.isHighSurrogate(c) && i + 1 < escaped.length
          && Character.isLowSurrogate(escaped[i + 1]);
      if (paired) {
        b.append(c).append(escaped[++i]);
      } else if ((c >= 0x7f && c <= 0x9f) || c == '\u2028' || c == '\u2029' || Character.isSurrogate(c)
          || Character.getType(c) == Character.FORMAT) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }

  private static boolean isPlain(String s) {
    if (s.isEmpty()) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\' || c == '(' || c == ')' || Character.isISOControl(c) || Character.isWhitespace(c)
          || Character.isSpaceChar(c) || Character.getType(c) == Character.FORMAT
          || Character.isSurrogate(c) && !pairedAt(s, i)) {
        return false;
      }
      if (Character.isHighSurrogate(c)) {
        i++;
      }
    }
    return true;
  }

  private static boolean pairedAt(String s, int i) {
    return Character.isHighSurrogate(s.charAt(i)) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
  }
}
