package dev.fdbroker.broker.it;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** One scrape of a Prometheus text endpoint, parsed: series (name with labels) to value. */
record Scrape(Map<String, Double> series, String text) {
  private static final Pattern LINE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})?\\s+(\\S+)");
  private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

  static Scrape http(String hostPort) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://" + hostPort + "/metrics")).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new AssertionError("scrape answered " + r.statusCode() + ": " + r.body());
    }
    if (!r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4")) {
      throw new AssertionError("not the Prometheus text format: " + r.headers().map());
    }
    return parse(r.body());
  }

  static Scrape parse(String text) {
    Map<String, Double> series = new HashMap<>();
    for (String line : text.split("\n")) {
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      Matcher m = LINE.matcher(line);
      if (!m.find()) {
        throw new AssertionError("not a sample line: " + line);
      }
      series.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), Double.parseDouble(m.group(3)));
    }
    return new Scrape(series, text);
  }

  /** The value of a series, e.g. {@code fdbroker_files_total{outcome="granted"}}; 0 if absent. */
  double get(String s) {
    return series.getOrDefault(s, 0.0);
  }

  boolean has(String s) {
    return series.containsKey(s);
  }

  /** Every series name, labels stripped. */
  Set<String> names() {
    Set<String> names = new HashSet<>();
    for (String s : series.keySet()) {
      int brace = s.indexOf('{');
      names.add(brace < 0 ? s : s.substring(0, brace));
    }
    return names;
  }

  /** Every label value of every series. */
  Set<String> labelValues() {
    Set<String> values = new HashSet<>();
    for (String s : series.keySet()) {
      Matcher m = LABEL.matcher(s);
      while (m.find()) {
        values.add(m.group(2));
      }
    }
    return values;
  }
}
