package dev.fdbroker.broker.server;

import dev.fdbroker.broker.policy.Limits;

/**
 * A home for connections in a test: the given limits, and nothing else. It parks nothing, hands
 * nothing over and retires nothing, so a connection it serves ends once its client is quiet.
 */
final class TestHome implements Connection.Home {
  private final Limits limits;
  private final DescriptorBudget budget = new DescriptorBudget(1024);

  TestHome(Limits limits) {
    this.limits = limits;
  }

  @Override
  public Limits limits() {
    return limits;
  }

  @Override
  public boolean park(Connection c) {
    return false;
  }

  @Override
  public boolean handOver(Connection c) {
    return false;
  }

  @Override
  public DescriptorBudget budget() {
    return budget;
  }

  @Override
  public int connections() {
    return 1;
  }

  @Override
  public boolean retire(Connection c) {
    return false;
  }

  @Override
  public void closed(Connection c) {}
}
