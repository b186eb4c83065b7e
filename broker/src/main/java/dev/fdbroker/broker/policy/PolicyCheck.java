package dev.fdbroker.broker.policy;

import java.util.List;

/**
 * What checking a policy found: the policy if it can be used, else every error; and the warnings
 * either way.
 *
 * @param policy null if there are errors
 */
public record PolicyCheck(Policy policy, List<ConfigException> errors, List<ConfigWarning> warnings) {
  public PolicyCheck {
    errors = List.copyOf(errors);
    warnings = List.copyOf(warnings);
  }
}
