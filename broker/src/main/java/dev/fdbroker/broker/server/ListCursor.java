package dev.fdbroker.broker.server;

/**
 * Where a listing goes on: the directory's own position (a getdents offset, as telldir gives it)
 * and its inode, written as {@code INODE:OFFSET} in lower-case hex. It holds nothing in the broker:
 * a client may keep it as long as it likes, or forge one, which can only move it about within a
 * directory it may list, every entry still judged by the policy.
 */
record ListCursor(long inode, long offset) {

  /** The cursor a client sent, or null if it is not one this broker could have given. */
  static ListCursor parse(String text) {
    int colon = text.indexOf(':');
    if (colon < 0 || colon != text.lastIndexOf(':')) {
      return null;
    }
    String inode = text.substring(0, colon);
    String offset = text.substring(colon + 1);
    if (!isHex(inode) || !isHex(offset)) {
      return null;
    }
    return new ListCursor(Long.parseUnsignedLong(inode, 16), Long.parseUnsignedLong(offset, 16));
  }

  private static boolean isHex(String s) {
    if (s.isEmpty() || s.length() > 16) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'f')) {
        return false;
      }
    }
    return true;
  }

  @Override
  public String toString() {
    return Long.toHexString(inode) + ":" + Long.toHexString(offset);
  }
}
