package dev.fdbroker.broker;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** The broker's version, stamped into the jar at build time. */
public final class BrokerVersion {
  private static final String VERSION = load();

  private BrokerVersion() {}

  public static String get() {
    return VERSION;
  }

  private static String load() {
    try (InputStream in = BrokerVersion.class.getResourceAsStream("/fdbroker-version.properties")) {
      if (in == null) {
        return "unknown";
      }
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("version", "unknown");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
