package dev.fdbroker.broker.policy;

/** A position in a config file, 1-based. */
public record Location(int line, int column) {
  @Override
  public String toString() {
    return line + ":" + column;
  }
}
