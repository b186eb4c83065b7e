package dev.fdbroker.broker.policy;

import java.util.concurrent.atomic.AtomicReference;

/**
 * The policy in force. A request takes one snapshot with {@link #get()} and decides all its paths
 * under it, so swapping in a new policy never splits a request between two.
 */
public final class CurrentPolicy {
  private final AtomicReference<Policy> current;

  public CurrentPolicy(Policy initial) {
    this.current = new AtomicReference<>(initial);
  }

  public Policy get() {
    return current.get();
  }

  /** Puts a new, fully compiled policy in force for every request that starts from now on. */
  public void replace(Policy next) {
    current.set(next);
  }
}
