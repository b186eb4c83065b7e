package dev.fdbroker.broker.policy;

/** Matching of one path component against a pattern whose only wildcard is {@code *}. */
final class ComponentGlob {
  private ComponentGlob() {}

  /**
   * @param parts the pattern split at each {@code *} (so n stars give n+1 parts, some maybe empty)
   */
  static boolean matches(String[] parts, String s) {
    return matches(parts, s, 0, s.length());
  }

  /**
   * Whether {@code s} from {@code start} to {@code end} (one component of a path, matched in place
   * so that no substring is made) matches.
   */
  static boolean matches(String[] parts, String s, int start, int end) {
    String first = parts[0];
    String last = parts[parts.length - 1];
    if (end - start < first.length() + last.length()
        || !s.startsWith(first, start)
        || !s.regionMatches(end - last.length(), last, 0, last.length())) {
      return false;
    }
    // With '*' the only wildcard, taking the leftmost match of each middle part is always safe.
    int from = start + first.length();
    int to = end - last.length();
    for (int i = 1; i < parts.length - 1; i++) {
      String part = parts[i];
      int at = s.indexOf(part, from);
      if (at < 0 || at + part.length() > to) {
        return false;
      }
      from = at + part.length();
    }
    return true;
  }
}
