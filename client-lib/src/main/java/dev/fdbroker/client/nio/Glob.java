package dev.fdbroker.client.nio;

import java.util.regex.PatternSyntaxException;

/**
 * Glob patterns as {@link java.nio.file.FileSystem#getPathMatcher} describes them, translated to a
 * regular expression over a path's text: {@code *} any characters within a name, {@code **} any
 * characters across names, {@code ?} one character within a name, {@code [abc]}, {@code [a-z]}
 * and {@code [!a]} one character of a set (never {@code /}), {@code {one,two}} either pattern
 * (groups do not nest), {@code \} escapes the character after it. A leading dot is an ordinary
 * character. The tests hold it to the default file system's matcher.
 */
final class Glob {
  private Glob() {}

  static String toRegex(String glob) {
    StringBuilder regex = new StringBuilder("^");
    boolean inGroup = false;
    int i = 0;
    while (i < glob.length()) {
      char c = glob.charAt(i++);
      switch (c) {
        case '\\':
          if (i == glob.length()) {
            throw new PatternSyntaxException("No character to escape", glob, i - 1);
          }
          literal(regex, glob.charAt(i++));
          break;
        case '*':
          if (i < glob.length() && glob.charAt(i) == '*') {
            regex.append(".*");
            i++;
          } else {
            regex.append("[^/]*");
          }
          break;
        case '?':
          regex.append("[^/]");
          break;
        case '[':
          i = bracket(glob, i, regex);
          break;
        case '{':
          if (inGroup) {
            throw new PatternSyntaxException("Cannot nest groups", glob, i - 1);
          }
          regex.append("(?:(?:");
          inGroup = true;
          break;
        case ',':
          regex.append(inGroup ? ")|(?:" : ",");
          break;
        case '}':
          if (inGroup) {
            regex.append("))");
            inGroup = false;
          } else {
            literal(regex, c);
          }
          break;
        default:
          literal(regex, c);
      }
    }
    if (inGroup) {
      throw new PatternSyntaxException("Missing '}'", glob, glob.length());
    }
    return regex.append('$').toString();
  }

  /**
   * Translates the set that starts after the '[' at {@code start - 1}; returns the index after its
   * ']'. The set is intersected with "not a slash".
   */
  private static int bracket(String glob, int start, StringBuilder regex) {
    int i = start;
    StringBuilder set = new StringBuilder();
    boolean negated = i < glob.length() && glob.charAt(i) == '!';
    if (negated) {
      i++;
    }
    if (i < glob.length() && glob.charAt(i) == '-') {
      set.append("\\-"); // a leading '-' is itself
      i++;
    }
    boolean closed = false;
    while (i < glob.length()) {
      char c = glob.charAt(i++);
      if (c == ']') {
        closed = true;
        break;
      }
      if (c == '/') {
        throw new PatternSyntaxException("Explicit 'name separator' in class", glob, i - 1);
      }
      if (i + 1 < glob.length() && glob.charAt(i) == '-' && glob.charAt(i + 1) != ']') {
        char to = glob.charAt(i + 1);
        if (to < c || to == '/') {
          throw new PatternSyntaxException("Invalid range", glob, i - 1);
        }
        classChar(set, c);
        set.append('-');
        classChar(set, to);
        i += 2;
      } else {
        classChar(set, c);
      }
    }
    if (!closed) {
      throw new PatternSyntaxException("Missing ']'", glob, glob.length());
    }
    if (set.length() == 0) {
      throw new PatternSyntaxException("Empty set", glob, start - 1);
    }
    regex.append("[[^/]&&[").append(negated ? "^" : "").append(set).append("]]");
    return i;
  }

  /** A character matched as itself: ASCII punctuation escaped, the rest as it is. */
  private static void literal(StringBuilder regex, char c) {
    if (c < 0x80 && !Character.isLetterOrDigit(c)) {
      regex.append('\\');
    }
    regex.append(c);
  }

  /** A character in a set, where the same escaping keeps '^', '-', '&', '[' and ']' literal. */
  private static void classChar(StringBuilder set, char c) {
    literal(set, c);
  }
}
