package dev.fdbroker.broker.policy;

import java.util.List;
import java.util.Map;

/**
 * A config document as a tree that remembers where each value came from, so every error can name
 * its line and column. Built by {@link ConfigReader}; YAML and JSON give the same tree.
 */
sealed interface ConfigNode permits ConfigNode.MapNode, ConfigNode.ListNode, ConfigNode.ScalarNode {

  Location location();

  /** A mapping, keys in file order. */
  record MapNode(Location location, Map<String, Entry> entries) implements ConfigNode {}

  /** One key of a mapping, with the key's own location. */
  record Entry(String key, Location keyLocation, ConfigNode value) {}

  record ListNode(Location location, List<ConfigNode> items) implements ConfigNode {}

  /**
   * A scalar; {@code kind} says how the document typed it. A {@link Kind#NULL} has the text {@value
   * #NO_VALUE} where the document gave no value at all ({@code rules:}), else {@code null}.
   */
  record ScalarNode(Location location, Kind kind, String text) implements ConfigNode {}

  /** The text of a null that the document did not write out: a key followed by nothing. */
  String NO_VALUE = "";

  enum Kind {
    STRING,
    INTEGER,
    DECIMAL,
    BOOLEAN,
    NULL
  }

  /** How a node is described in messages ("a list", "the string \"x\""). */
  static String describe(ConfigNode node) {
    return switch (node) {
      case MapNode m -> "a mapping";
      case ListNode l -> "a list";
      case ScalarNode s -> switch (s.kind()) {
        case STRING -> "the string \"" + s.text() + "\"";
        case NULL -> s.text().equals(NO_VALUE) ? "no value" : "null";
        default -> s.text();
      };
    };
  }
}
