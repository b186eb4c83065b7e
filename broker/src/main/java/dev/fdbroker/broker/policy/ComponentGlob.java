package dev.fdbroker.broker.policy;

/** Matching of one path component against a pattern whose only wildcard is {@code *}. */
final class ComponentGlob {
  private ComponentGlob() {}

  /**
   * @param parts the pattern split at each {@code *} (so n stars give n+1 parts, some maybe empty)
   */
  static boolean matches(String[] parts, String s) {
    String first = parts[0];
    String last = parts[parts.length - 1];
    if (s.length() < first.length() + last.length() || !s.startsWith(first) || !s.endsWith(last)) {
      return false;
    }
    // With '*' the only wildcard, taking the leftmost match of each middle part is always safe.
    int from = first.length();
    int end = s.length() - last.length();
    for (int i = 1; i < parts.length - 1; i++) {
      String part = parts[i];
      int at = s.indexOf(part, from);
      if (at < 0 || at + part.length() > end) {
        return false;
      }
      from = at + part.length();
    }
    return true;
  }
}
