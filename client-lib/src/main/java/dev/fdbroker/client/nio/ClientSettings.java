package dev.fdbroker.client.nio;

import dev.fdbroker.client.FdBrokerClient;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.Set;

/**
 * The environment of {@code FileSystems.newFileSystem(uri, env)}: settings of the client the file
 * system makes. {@code "connectTimeout"} and {@code "requestTimeout"}: a {@link Duration}, a number
 * of milliseconds, or an ISO-8601 text such as {@code "PT5S"}; {@code "maxConnections"}: a number.
 * Anything else is refused, so that a misspelt setting does not pass unseen.
 */
final class ClientSettings {
  static final Set<String> KEYS = Set.of("connectTimeout", "requestTimeout", "maxConnections");

  private ClientSettings() {}

  static FdBrokerClient.Builder apply(FdBrokerClient.Builder builder, Map<String, ?> env) {
    for (Map.Entry<String, ?> e : env.entrySet()) {
      Object value = e.getValue();
      switch (e.getKey()) {
        case "connectTimeout":
          builder.connectTimeout(duration(e.getKey(), value));
          break;
        case "requestTimeout":
          builder.requestTimeout(duration(e.getKey(), value));
          break;
        case "maxConnections":
          builder.maxConnections(number(e.getKey(), value));
          break;
        default:
          throw new IllegalArgumentException("unknown setting \"" + e.getKey() + "\" (known: " + KEYS + ")");
      }
    }
    return builder;
  }

  private static Duration duration(String key, Object value) {
    if (value instanceof Duration) {
      return (Duration) value;
    }
    if (value instanceof Number) {
      return Duration.ofMillis(((Number) value).longValue());
    }
    if (value instanceof String) {
      try {
        return Duration.parse((String) value);
      } catch (DateTimeParseException e) {
        throw new IllegalArgumentException("\"" + key + "\" is not an ISO-8601 duration: " + value, e);
      }
    }
    throw new IllegalArgumentException("\"" + key + "\" must be a Duration, milliseconds or ISO-8601 text, not " + value);
  }

  private static int number(String key, Object value) {
    if (value instanceof Number) {
      return ((Number) value).intValue();
    }
    if (value instanceof String) {
      return Integer.parseInt((String) value);
    }
    throw new IllegalArgumentException("\"" + key + "\" must be a number, not " + value);
  }
}
