package dev.fdbroker.protocol;

/**
 * The syntax every requested path must have. A path is canonical by construction: absolute, no
 * {@code .} or {@code ..} or empty components, no NUL, valid Unicode, at most {@value
 * ProtocolLimits#MAX_PATH_BYTES} UTF-8 bytes. The policy matches paths textually, so this is what
 * makes a textual match mean the same file the kernel will resolve.
 */
public final class PathSyntax {
  private PathSyntax() {}

  /** The length of {@code s} in UTF-8 bytes (unpaired surrogates counted as the 3 bytes of U+FFFD). */
  public static int utf8Length(String s) {
    int n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        n++;
      } else if (c < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    }
    return n;
  }

  /** Why the path is not acceptable, or null if it is. */
  public static String problem(String path) {
    if (canonicalLength(path) >= 0) {
      return null;
    }
    if (path.isEmpty()) {
      return "path is empty";
    }
    if (path.charAt(0) != '/') {
      return "path must be absolute";
    }
    int componentStart = 1;
    int length = path.length();
    for (int i = 0; i < length; i++) {
      char c = path.charAt(i);
      if (c == 0) {
        return "path contains a NUL byte";
      }
      if (Character.isHighSurrogate(c)) {
        if (i + 1 >= length || !Character.isLowSurrogate(path.charAt(i + 1))) {
          return "path is not valid Unicode (unpaired surrogate)";
        }
        i++;
      } else if (Character.isLowSurrogate(c)) {
        return "path is not valid Unicode (unpaired surrogate)";
      }
      if (c == '/' && i > 0) {
        String problem = componentProblem(path, componentStart, i);
        if (problem != null) {
          return problem;
        }
        componentStart = i + 1;
      }
    }
    if (length > 1) {
      String problem = componentProblem(path, componentStart, length);
      if (problem != null) {
        return problem;
      }
    }
    return "path is longer than " + ProtocolLimits.MAX_PATH_BYTES + " bytes";
  }

  /**
   * The path's length in UTF-8 bytes if it is acceptable ({@link #problem} would say null), else
   * -1: the check every request's every path goes through, twice, in one pass over its chars.
   * {@link #problem} says why a path fails.
   */
  public static int canonicalLength(String path) {
    int length = path.length();
    if (length == 0 || path.charAt(0) != '/') {
      return -1;
    }
    int bytes = 1;
    int componentStart = 1;
    for (int i = 1; i < length; i++) {
      char c = path.charAt(i);
      if (c == '/') {
        if (!componentOk(path, componentStart, i)) {
          return -1;
        }
        componentStart = i + 1;
        bytes++;
      } else if (c < 0x80) {
        if (c == 0) {
          return -1;
        }
        bytes++;
      } else if (c < 0x800) {
        bytes += 2;
      } else if (Character.isHighSurrogate(c)) {
        if (i + 1 >= length || !Character.isLowSurrogate(path.charAt(i + 1))) {
          return -1;
        }
        i++;
        bytes += 4;
      } else if (Character.isLowSurrogate(c)) {
        return -1;
      } else {
        bytes += 3;
      }
    }
    if (length > 1 && !componentOk(path, componentStart, length)) {
      return -1;
    }
    return bytes <= ProtocolLimits.MAX_PATH_BYTES ? bytes : -1;
  }

  /** Not empty, not "." and not "..". */
  private static boolean componentOk(String path, int start, int end) {
    int n = end - start;
    if (n == 0) {
      return false;
    }
    return path.charAt(start) != '.' || (n != 1 && (n != 2 || path.charAt(start + 1) != '.'));
  }

  private static String componentProblem(String path, int start, int end) {
    int n = end - start;
    if (n == 0) {
      return "path has an empty component ('//' or a trailing '/')";
    }
    if (path.charAt(start) == '.') {
      if (n == 1) {
        return "path has a '.' component";
      }
      if (n == 2 && path.charAt(start + 1) == '.') {
        return "path has a '..' component";
      }
    }
    return null;
  }
}
