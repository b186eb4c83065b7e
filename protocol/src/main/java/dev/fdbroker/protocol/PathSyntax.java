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
    if (utf8Length(path) > ProtocolLimits.MAX_PATH_BYTES) {
      return "path is longer than " + ProtocolLimits.MAX_PATH_BYTES + " bytes";
    }
    return null;
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
