package dev.fdbroker.broker.policy;

/** The policy's verdict on one path for one caller. */
public sealed interface Decision permits Decision.Allowed, Decision.Traversable, Decision.Denied,
    Decision.NoRuleAllows {

  boolean allowed();

  /** The name of the rule that decided, or null for the default deny. */
  default String ruleName() {
    if (this instanceof Allowed a) {
      return a.rule().name();
    } else if (this instanceof Traversable t) {
      return t.rule().name();
    } else if (this instanceof Denied d) {
      return d.rule().name();
    }
    return null;
  }

  /** Whether this allows only files the caller owns ({@code owner: caller}). */
  default boolean ownerOnly() {
    return this instanceof Allowed a && a.rule().ownerIsCaller();
  }

  /** An applicable rule allows the path and no applicable rule denies it. */
  record Allowed(Rule rule, PathPattern pattern) implements Decision {
    @Override
    public boolean allowed() {
      return true;
    }
  }

  /**
   * No rule allows the path itself, none denies it, and an applicable rule allows a pattern that
   * could match below it: the caller may see it as a directory on its way down ({@code stat} and
   * {@code list}), never open it.
   */
  record Traversable(Rule rule, PathPattern pattern) implements Decision {
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
