package dev.fdbroker.broker.policy;

/**
 * A systemd unit name a rule names, in which {@code *} matches any run of characters:
 * {@code render-worker@*.service} matches every instance of that template.
 *
 * @param parts the text split at each {@code *}
 */
public record UnitPattern(String text, String[] parts) {

  /** Characters systemd allows in a unit name, plus the pattern's {@code *}. */
  private static final String ALLOWED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@*";

  /**
   * Compiles a unit pattern.
   *
   * @throws IllegalArgumentException with a message fit for a config error
   */
  static UnitPattern compile(String text) {
    if (text.isEmpty() || text.length() > 256) {
      throw new IllegalArgumentException("a unit name is 1 to 256 characters");
    }
    for (int i = 0; i < text.length(); i++) {
      if (ALLOWED.indexOf(text.charAt(i)) < 0) {
        throw new IllegalArgumentException("'" + text.charAt(i) + "' is not allowed in a unit name (letters, digits,"
            + " ':', '-', '_', '.', '\\\\', '@' and the pattern's '*')");
      }
    }
    if (!text.endsWith(".service") && !text.endsWith(".scope") && !text.endsWith("*")) {
      throw new IllegalArgumentException("a caller's unit is a .service or a .scope (the one its cgroup is in), "
          + "so \"" + text + "\" names none");
    }
    return new UnitPattern(text, text.split("\\*", -1));
  }

  /** Whether this names {@code unit}. */
  boolean matches(String unit) {
    return parts.length == 1 ? text.equals(unit) : ComponentGlob.matches(parts, unit);
  }

  /** Whether some unit this names can be an instance of a template ({@code name@instance.service}). */
  boolean canBeInstance() {
    return text.indexOf('@') >= 0 || text.indexOf('*') >= 0;
  }

  @Override
  public String toString() {
    return text;
  }
}
