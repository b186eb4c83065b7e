package dev.fdbroker.client;

import java.util.List;

/**
 * What a broker says about itself in reply to a ping.
 *
 * @param maxPaths the most paths the broker takes in one request
 * @param ops the operations the broker serves, as the protocol names them ("open", "stat", "list",
 *     "ping"); a broker from before stat and list serves "open" and "ping" only
 */
public record BrokerInfo(String version, int protocolVersion, int maxPaths, List<String> ops) {
  /** Copies {@code ops}. */
  public BrokerInfo {
    ops = List.copyOf(ops);
  }

  /** Whether the broker serves the operation {@code op} ("stat", "list"...). */
  public boolean serves(String op) {
    return ops.contains(op);
  }
}
