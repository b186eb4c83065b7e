package dev.fdbroker.broker.policy;

/** The policy's verdict on one path for one caller. */
public sealed interface Decision permits Decision.Allowed, Decision.Denied, Decision.NoRuleAllows {

  boolean allowed();

  /** An applicable rule allows the path and no applicable rule denies it. */
  record Allowed(Rule rule, PathPattern pattern) implements Decision {
    @Override
    public boolean allowed() {
      return true;
    }
  }

  /** An applicable rule denies the path; that beats any allow. */
  record Denied(Rule rule, PathPattern pattern) implements Decision {
    @Override
    public boolean allowed() {
      return false;
    }
  }

  /** No applicable rule mentions the path: denied by default. */
  record NoRuleAllows() implements Decision {
    @Override
    public boolean allowed() {
      return false;
    }
  }
}
