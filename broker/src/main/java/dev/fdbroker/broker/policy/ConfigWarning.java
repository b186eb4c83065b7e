package dev.fdbroker.broker.policy;

/**
 * Something in a valid policy that is rarely what was meant: reported by {@code check-config} and
 * logged when the policy is loaded, never a reason to refuse it. Printed like a {@link
 * ConfigException}, marked {@code warning:}.
 *
 * @param location where in the file, or null for the file as a whole
 */
public record ConfigWarning(String file, Location location, String field, String problem) {
  @Override
  public String toString() {
    return ConfigException.format(file, location, field, "warning: " + problem);
  }
}
