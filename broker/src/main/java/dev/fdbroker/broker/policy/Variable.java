package dev.fdbroker.broker.policy;

/**
 * A value of the caller's that a pattern may hold, written {@code ${name}}: each caller's pattern
 * reads as if the caller's own value were written in its place.
 */
public enum Variable {
  UID("uid"),
  USER("user"),
  GID("gid"),
  UNIT("unit"),
  INSTANCE("instance");

  private final String key;

  Variable(String key) {
    this.key = key;
  }

  /** Whether the value comes from the caller's systemd unit. */
  boolean isUnits() {
    return this == UNIT || this == INSTANCE;
  }

  /** The name between the braces. */
  public String key() {
    return key;
  }

  /** The variable called {@code key}, or null. */
  static Variable named(String key) {
    for (Variable v : values()) {
      if (v.key.equals(key)) {
        return v;
      }
    }
    return null;
  }

  @Override
  public String toString() {
    return "${" + key + "}";
  }
}
