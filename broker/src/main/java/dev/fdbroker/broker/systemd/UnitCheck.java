package dev.fdbroker.broker.systemd;

import dev.fdbroker.broker.policy.Policy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Says, when a policy that names units is loaded, if this broker cannot tell callers' units: every
 * caller's unit would then be unknown, so those rules would grant nothing and their denies would
 * bind everyone. Without this line an operator would see only denials.
 */
public final class UnitCheck {
  private static final Logger log = LoggerFactory.getLogger(UnitCheck.class);

  private UnitCheck() {}

  public static void warnIfBlind(Policy policy) {
    if (!policy.usesUnits()) {
      return;
    }
    String problem = CallerUnit.problem();
    if (problem != null) {
      log.warn("the policy names systemd units, but {}: rules that name units grant nothing, and their denies "
          + "bind every caller", problem);
    }
  }
}
