package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fdbroker.client.FdBrokerClient;
import dev.fdbroker.client.OpenBatch;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Metrics and audit, read the way operators read them: a real HTTP scrape of /metrics, the real
 * audit file, the real stderr.
 */
class ObservabilityIT {

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static void signal(Fixture f, String name) throws Exception {
    ItSupport.run(List.of("kill", "-" + name, Long.toString(f.broker.pid())), Duration.ofSeconds(10)).assertExit(0);
  }

  /** Polls until {@code series} reaches {@code atLeast} (counters move right after a reply is written). */
  private static Scrape awaitSeries(String hostPort, String series, double atLeast) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      Scrape s = Scrape.http(hostPort);
      if (s.get(series) >= atLeast || System.nanoTime() > deadline) {
        return s;
      }
      Thread.sleep(50);
    }
  }

  @Test
  void countersMoveAsRequestsAreAllowedDeniedAndRefused() throws Exception {
    String hostPort = "127.0.0.1:" + freePort();
    try (Fixture f = Fixture.startWith("metrics: {listen: \"" + hostPort + "\"}\naudit: {output: ROOT/audit.jsonl}", Map.of())) {
      // Counters move right after a reply is written: let the start-up check's ping land first.
      Scrape before = awaitSeries(hostPort, "fdbroker_requests_total{op=\"ping\",outcome=\"ok\"}", 1);
      String pub = f.allowed + "/public.txt";
      try (FdBrokerClient client = FdBrokerClient.connect(f.socket);
          OpenBatch batch = client.openAll(pub, pub, f.allowed + "/private/key.txt", f.outsideSecret.toString(),
              f.allowed + "/missing", f.allowed + "/../x")) {
        assertEquals(6, batch.size());
      }
      try (RawClient raw = new RawClient(f.socket)) {
        raw.request("{\"op\":\"open\",\"paths\":3}");
      }
      Map<String, Double> expectedDeltas = Map.ofEntries(
          Map.entry("fdbroker_requests_total{op=\"open\",outcome=\"ok\"}", 1.0),
          Map.entry("fdbroker_requests_total{op=\"ping\",outcome=\"ok\"}", 1.0), // connect() checks the broker
          Map.entry("fdbroker_requests_total{op=\"invalid\",outcome=\"bad_request\"}", 1.0),
          Map.entry("fdbroker_decisions_total{decision=\"allow\",rule=\"test-runner\"}", 3.0),
          Map.entry("fdbroker_decisions_total{decision=\"deny\",rule=\"test-runner\"}", 1.0),
          Map.entry("fdbroker_decisions_total{decision=\"deny\",rule=\"none\"}", 1.0),
          Map.entry("fdbroker_files_total{outcome=\"granted\"}", 2.0),
          Map.entry("fdbroker_files_total{outcome=\"denied\"}", 2.0),
          Map.entry("fdbroker_files_total{outcome=\"not_found\"}", 1.0),
          Map.entry("fdbroker_files_total{outcome=\"bad_request\"}", 1.0),
          Map.entry("fdbroker_descriptors_sent_total", 2.0),
          Map.entry("fdbroker_request_duration_seconds_count{op=\"open\"}", 1.0),
          Map.entry("fdbroker_connections_accepted_total", 2.0)); // the client's pooled one, and the raw one
      Scrape after = Scrape.http(hostPort);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (!matches(expectedDeltas, before, after) && System.nanoTime() < deadline) {
        Thread.sleep(50);
        after = Scrape.http(hostPort);
      }
      for (Map.Entry<String, Double> e : expectedDeltas.entrySet()) {
        assertEquals(e.getValue(), after.get(e.getKey()) - before.get(e.getKey()), e.getKey() + "\n" + after.text());
      }
      assertTrue(after.has("fdbroker_request_duration_seconds_bucket{op=\"open\",le=\"1.0E-5\"}"), "buckets start at 10 µs");
      assertTrue(after.has("fdbroker_request_duration_seconds_bucket{op=\"open\",le=\"10.0\"}"), "and reach 10 s");
      assertTrue(after.has("fdbroker_connections_active"));
      assertEquals(1.0, after.get("fdbroker_policy_generation"));
      for (String jvm : List.of("jvm_memory_used_bytes", "jvm_threads_live_threads", "process_files_open_files",
          "process_uptime_seconds", "process_cpu_usage", "jvm_classes_loaded_classes")) {
        assertTrue(after.names().contains(jvm), jvm + " is exported");
      }
      assertTrue(after.names().stream().anyMatch(n -> n.startsWith("jvm_gc_")), "GC metrics are exported");

      // Cardinality stays bounded: no label carries a path or an id.
      for (String value : after.labelValues()) {
        assertFalse(value.contains("/"), "a label value looks like a path: " + value);
        assertFalse(value.equals(Integer.toString(ItSupport.myUid())) && ItSupport.myUid() > 0, "a label value is a uid");
      }

      // Reloads: one good, one broken.
      // (A scrape reads meters one by one, so wait for the whole expected state.)
      signal(f, "HUP");
      Map<String, Double> afterReload = Map.of("fdbroker_policy_reloads_total{result=\"success\"}", 1.0,
          "fdbroker_policy_generation", 2.0);
      assertTrue(matches(afterReload, Scrape.parse(""), awaitState(hostPort, afterReload)), "reload counted");
      Files.writeString(f.policy, "rules: [oops");
      signal(f, "HUP");
      Map<String, Double> afterRejection = Map.of("fdbroker_policy_reloads_total{result=\"failure\"}", 1.0,
          "fdbroker_policy_reloads_total{result=\"success\"}", 1.0, "fdbroker_policy_generation", 2.0);
      assertTrue(matches(afterRejection, Scrape.parse(""), awaitState(hostPort, afterRejection)),
          "a rejected policy is counted and is not a new generation");
    }
  }

  /** Scrapes until every series has its expected value (or 10 s pass); returns the last scrape. */
  private static Scrape awaitState(String hostPort, Map<String, Double> expected) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    Scrape s = Scrape.http(hostPort);
    while (!matches(expected, Scrape.parse(""), s) && System.nanoTime() < deadline) {
      Thread.sleep(50);
      s = Scrape.http(hostPort);
    }
    return s;
  }

  private static boolean matches(Map<String, Double> deltas, Scrape before, Scrape after) {
    return deltas.entrySet().stream().allMatch(e -> after.get(e.getKey()) - before.get(e.getKey()) == e.getValue());
  }

  @Test
  void theEndpointAlsoServesOnAUnixSocketAndAnswersOnlyMetrics() throws Exception {
    try (Fixture f = Fixture.startWith("metrics: {listen: \"unix:ROOT/run/metrics.sock\"}", Map.of())) {
      String sock = f.root + "/run/metrics.sock";
      ItSupport.Result ok = ItSupport.run(List.of("curl", "-sS", "-i", "--unix-socket", sock, "http://localhost/metrics"),
          Duration.ofSeconds(30)).assertExit(0);
      assertTrue(ok.stdout().startsWith("HTTP/1.1 200 OK"), ok.stdout());
      assertTrue(ok.stdout().contains("fdbroker_policy_generation 1"), ok.stdout());
      ItSupport.Result missing = ItSupport.run(List.of("curl", "-sS", "-i", "--unix-socket", sock, "http://localhost/secrets"),
          Duration.ofSeconds(30)).assertExit(0);
      assertTrue(missing.stdout().startsWith("HTTP/1.1 404"), missing.stdout());
      ItSupport.Result post = ItSupport.run(List.of("curl", "-sS", "-i", "-X", "POST", "--unix-socket", sock,
          "http://localhost/metrics"), Duration.ofSeconds(30)).assertExit(0);
      assertTrue(post.stdout().startsWith("HTTP/1.1 405"), post.stdout());
    }
  }

  @Test
  void systemdCanPassTheMetricsSocketSoTheBrokerNeedsNoNetwork() throws Exception {
    Path dir = ItSupport.worldReadableTempDir("fdbroker-metrics-");
    try {
      Files.writeString(dir.resolve("a.txt"), "a\n");
      Path policy = Files.writeString(dir.resolve("policy.yaml"), "metrics: {listen: systemd}\nrules:\n"
          + "  - name: t\n    users: [" + ItSupport.myUid() + "]\n    allow: [\"" + dir + "/*.txt\"]\n");
      Path sock = dir.resolve("broker.sock");
      String hostPort = "127.0.0.1:" + freePort();
      Process broker = new ProcessBuilder("systemd-socket-activate", "-l", sock.toString(), "-l", hostPort,
          "--fdname=fdbroker:metrics", "--", ItSupport.java(), "-jar", ItSupport.brokerJar().toString(), "serve",
          "--config", policy.toString())
          .redirectErrorStream(true).redirectOutput(dir.resolve("log").toFile()).start();
      try {
        for (int i = 0; i < 200 && !Files.exists(sock); i++) {
          Thread.sleep(20);
        }
        try (FdBrokerClient client = FdBrokerClient.connect(sock)) {
          client.open(dir + "/a.txt").close();
        }
        Scrape s = awaitSeries(hostPort, "fdbroker_files_total{outcome=\"granted\"}", 1);
        assertEquals(1.0, s.get("fdbroker_files_total{outcome=\"granted\"}"), Files.readString(dir.resolve("log")));
      } finally {
        broker.destroy();
        broker.waitFor(20, TimeUnit.SECONDS);
      }
    } finally {
      ItSupport.deleteTree(dir);
    }
  }

  @Test
  void theAuditFileHasOneJsonLinePerDecisionWithEveryField() throws Exception {
    assumeTrue(ItSupport.isRoot(), "the caller is nobody, via setpriv");
    try (Fixture f = Fixture.startWith("audit: {output: ROOT/audit/audit.jsonl}", Map.of())) {
      String weird = f.allowed + "/we\"ird\\ name\nwith\ttabs and é";
      List<String> paths = List.of(f.allowed + "/public.txt", f.outsideSecret.toString(), weird, f.allowed + "/private/key.txt",
          f.allowed + "/../etc/passwd");
      JsonNode report = f.probe(ItSupport.NOBODY, ItSupport.NOGROUP, List.of(Map.of("op", "open", "paths", paths)));
      long pid = -1;
      Path audit = f.root.resolve("audit/audit.jsonl");
      List<JsonNode> lines = new ArrayList<>();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (lines.size() < paths.size() && System.nanoTime() < deadline) {
        lines.clear();
        if (Files.exists(audit)) {
          for (String line : Files.readAllLines(audit)) {
            lines.add(Fixture.JSON.readTree(line));
          }
        }
        Thread.sleep(50);
      }
      assertEquals(paths.size(), lines.size(), "one line per decision: " + lines);
      String[][] expected = {
          {"allow", "workers", null},
          {"deny", null, "denied"},
          {"allow", "workers", "not_found"},
          {"deny", "workers", "denied"},
          {"invalid", null, "bad_request"}};
      for (int i = 0; i < paths.size(); i++) {
        JsonNode line = lines.get(i);
        for (String field : List.of("time", "conn", "uid", "user", "gid", "groups", "pid", "exe", "unit", "op", "path", "decision",
            "rule", "error", "latency_us")) {
          assertTrue(line.has(field), field + " in " + line);
        }
        assertEquals(paths.get(i), line.get("path").asText(), "the path exactly as requested");
        assertEquals(65534, line.get("uid").asLong());
        assertEquals(65534, line.get("gid").asLong());
        assertEquals("nobody", line.get("user").asText(), "the uid's name, from the user database");
        assertTrue(line.get("unit").isNull(), "no unit is read while no rule names one: " + line);
        assertEquals("open", line.get("op").asText());
        assertEquals(expected[i][0], line.get("decision").asText(), line.toString());
        assertEquals(expected[i][1], line.get("rule").isNull() ? null : line.get("rule").asText(), line.toString());
        assertEquals(expected[i][2], line.get("error").isNull() ? null : line.get("error").asText(), line.toString());
        assertTrue(line.get("exe").asText().contains("python3"), "the caller's executable: " + line);
        assertTrue(line.get("latency_us").asLong() >= 0);
        pid = pid == -1 ? line.get("pid").asLong() : pid;
        assertEquals(pid, line.get("pid").asLong(), "one caller");
      }
      assertEquals(1, new HashSet<>(lines.stream().map(l -> l.get("conn").asLong()).toList()).size(), "one connection");
      assertTrue(report.at("/replies/0/reply/files/0/ok").asBoolean());
    }
  }

  @Test
  void auditGoesToStderrByDefaultAndUnpairedSurrogatesCannotBreakALine() throws Exception {
    try (Fixture f = Fixture.start("")) {
      try (RawClient raw = new RawClient(f.socket)) {
        raw.request("{\"op\":\"open\",\"paths\":[\"" + f.allowed + "/public.txt\",\"/bad\\ud800path\"]}");
        raw.closeDescriptors();
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      List<JsonNode> audit = new ArrayList<>();
      while (audit.size() < 2 && System.nanoTime() < deadline) {
        audit.clear();
        for (String line : f.broker.log().split("\n")) {
          if (line.startsWith("{")) {
            audit.add(Fixture.JSON.readTree(line));
          }
        }
        Thread.sleep(50);
      }
      assertEquals(2, audit.size(), f.broker.log());
      assertEquals(f.allowed + "/public.txt", audit.get(0).get("path").asText());
      assertEquals("/bad\uFFFDpath", audit.get(1).get("path").asText());
      assertEquals("invalid", audit.get(1).get("decision").asText());
    }
  }

  @Test
  void aFullDiskNeitherCrashesTheBrokerNorStallsRequests() throws Exception {
    String hostPort = "127.0.0.1:" + freePort();
    try (Fixture f = Fixture.startWith("metrics: {listen: \"" + hostPort + "\"}\naudit: {output: /dev/full}", Map.of());
        FdBrokerClient client = FdBrokerClient.connect(f.socket)) {
      long start = System.nanoTime();
      for (int i = 0; i < 500; i++) {
        client.open(f.allowed + "/public.txt").close();
      }
      long millis = (System.nanoTime() - start) / 1_000_000;
      assertTrue(millis < 20_000, "500 requests took " + millis + " ms with every audit write failing");
      assertTrue(f.broker.isAlive());
      Scrape s = awaitSeries(hostPort, "fdbroker_audit_write_errors_total", 1);
      assertTrue(s.get("fdbroker_audit_write_errors_total") >= 1, "write failures are counted:\n" + s.text());
    }
  }

  @Test
  void anAuditFileThatCannotBeOpenedDoesNotStopTheBroker() throws Exception {
    String hostPort = "127.0.0.1:" + freePort();
    // Under /proc nothing can be created, not even by root.
    try (Fixture f = Fixture.startWith("metrics: {listen: \"" + hostPort + "\"}\naudit: {output: /proc/fdbroker/audit.jsonl}", Map.of());
        FdBrokerClient client = FdBrokerClient.connect(f.socket)) {
      client.open(f.allowed + "/public.txt").close();
      assertTrue(f.broker.log().contains("audit log /proc/fdbroker/audit.jsonl cannot be opened"), f.broker.log());
      assertTrue(awaitSeries(hostPort, "fdbroker_audit_write_errors_total", 1).get("fdbroker_audit_write_errors_total") >= 1);
    }
  }

  @Test
  void underJournaldOperationalLogLinesCarryPriorities() throws Exception {
    // JOURNAL_STREAM names the stream journald gave the service; here, the broker's log file.
    Path dir = ItSupport.worldReadableTempDir("fdbroker-journal-");
    try {
      Path socket = dir.resolve("broker.sock");
      Path log = Files.createFile(BrokerProcess.logFile(socket));
      String stream = Files.getAttribute(log, "unix:dev") + ":" + Files.getAttribute(log, "unix:ino");
      Path policy = Files.writeString(dir.resolve("policy.yaml"), "rules: []\n");
      try (BrokerProcess broker = BrokerProcess.start(policy, socket, Map.of("JOURNAL_STREAM", stream))) {
        assertTrue(broker.log().lines().anyMatch(l -> l.startsWith("<6>") && l.contains("INFO  ServeCommand: fdbroker")),
            broker.log());
        assertFalse(broker.log().lines().anyMatch(l -> l.contains("ServeCommand") && !l.startsWith("<")), broker.log());
      }
      // A JOURNAL_STREAM that is not our stderr (inherited by a redirected child) adds nothing.
      Files.delete(socket.resolveSibling("broker.sock.log"));
      try (BrokerProcess broker = BrokerProcess.start(policy, socket, Map.of("JOURNAL_STREAM", "1:2"))) {
        assertTrue(broker.log().lines().anyMatch(l -> l.contains("INFO  ServeCommand: fdbroker") && !l.startsWith("<")),
            broker.log());
      }
    } finally {
      ItSupport.deleteTree(dir);
    }
  }

  @Test
  void theGrafanaDashboardIsValidJsonAndQueriesOnlyExportedMetrics() throws Exception {
    JsonNode dashboard = Fixture.JSON.readTree(ItSupport.projectRoot().resolve("packaging/grafana/fdbroker.json").toFile());
    List<String> exprs = new ArrayList<>();
    collectExprs(dashboard, exprs);
    assertTrue(exprs.size() >= 6, "the dashboard has panels with queries: " + exprs);
    String hostPort = "127.0.0.1:" + freePort();
    try (Fixture f = Fixture.startWith("metrics: {listen: \"" + hostPort + "\"}", Map.of());
        FdBrokerClient client = FdBrokerClient.connect(f.socket)) {
      client.open(f.allowed + "/public.txt").close();
      Set<String> exported = awaitSeries(hostPort, "fdbroker_files_total{outcome=\"granted\"}", 1).names();
      Pattern metric = Pattern.compile("\\b((?:fdbroker|jvm|process|system)_[a-z0-9_]+)");
      Set<String> queried = new HashSet<>();
      for (String expr : exprs) {
        Matcher m = metric.matcher(expr);
        while (m.find()) {
          queried.add(m.group(1));
        }
      }
      assertTrue(queried.size() >= 6, queried.toString());
      for (String name : queried) {
        assertTrue(exported.contains(name), "the dashboard queries " + name + ", which the broker does not export");
      }
    }
  }

  private static void collectExprs(JsonNode node, List<String> out) {
    if (node.isObject()) {
      node.properties().forEach(e -> {
        if (e.getKey().equals("expr") && e.getValue().isTextual()) {
          out.add(e.getValue().asText());
        } else {
          collectExprs(e.getValue(), out);
        }
      });
    } else if (node.isArray()) {
      node.forEach(n -> collectExprs(n, out));
    }
  }

  @Test
  void metricsAndAuditSettingsAreValidated() throws Exception {
    for (String[] c : new String[][] {
        {"metrics: {listen: \"0.0.0.0\"}", "metrics.listen: expected host:port"},
        {"metrics: {listen: \"example.com:9464\"}", "metrics.listen: host must be an IP address literal"},
        {"metrics: {listen: \"127.0.0.1:99999\"}", "metrics.listen: port must be 1-65535"},
        {"metrics: {listen: \"unix:relative\"}", "metrics.listen: a unix socket address needs an absolute path"},
        {"metrics: {port: 1}", "metrics.port: unknown key"},
        {"audit: {output: syslog}", "audit.output: expected \"stderr\" or an absolute file path"}}) {
      Path p = Files.createTempFile("policy", ".yaml");
      try {
        Files.writeString(p, c[0] + "\nrules: []\n");
        ItSupport.Result r = CliIT.fdbroker("check-config", p.toString());
        assertEquals(2, r.exit());
        assertTrue(r.stderr().contains(c[1]), r.stderr());
      } finally {
        Files.delete(p);
      }
    }
  }
}
