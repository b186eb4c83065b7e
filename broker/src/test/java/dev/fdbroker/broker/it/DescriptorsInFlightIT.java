package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Descriptors sent and never received are charged by the kernel to the broker's user, which it
 * refuses every send carrying descriptors past its RLIMIT_NOFILE, for every caller alike. With the
 * broker as the unit runs it (its user, its LimitNOFILE, no CAP_SYS_RESOURCE), callers that never
 * read, and hang up half-way to free their connection slots, must not stop it passing descriptors
 * to others; and should the kernel refuse anyway, the caller hears busy and the failure is counted.
 */
class DescriptorsInFlightIT {
  private static final long ATTACKER2 = 64010;
  private Path dir;
  private Path file;
  private HostBroker broker;
  private final List<Process> hoarders = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    assumeTrue(ItSupport.isRoot(), "runs the broker as the fdbroker user, and callers as other users");
    dir = ItSupport.worldReadableTempDir("fdbroker-inflight-");
    file = ItSupport.write(dir.resolve("files/a.txt"), "a\n", "rw-------");
  }

  @AfterEach
  void tearDown() throws Exception {
    for (Process p : hoarders) {
      p.destroyForcibly().waitFor();
    }
    if (broker != null) {
      broker.close();
    }
    if (dir != null) {
      ItSupport.deleteTree(dir);
    }
  }

  private void start(String limits) throws Exception {
    start(limits, HostBroker.Options.defaults());
  }

  private void start(String limits, HostBroker.Options options) throws Exception {
    Path policy = Files.writeString(dir.resolve("policy.yaml"), "metrics: {listen: systemd}\n" + limits + "rules:\n"
        + "  - name: test\n    users: [" + ItSupport.myUid() + ", nobody, " + ATTACKER2 + "]\n"
        + "    allow: [\"" + dir + "/files/*\"]\n");
    broker = HostBroker.start(dir, policy, options.withMetricsSocket());
  }

  @Test
  void callersThatNeverReadCannotStopTheBrokerPassingDescriptorsToOthers() throws Exception {
    start("");
    // A uid takes every connection it may (256), asks for 64 files on each, reads nothing, and
    // hangs up half-way: 16,384 descriptors, 17 connections' worth of which locked everyone out.
    Process attacker = hoard(ItSupport.NOBODY, "broker", broker.socket().toString(), "256", file.toString());
    Scrape held = awaitScrape(s -> s.get("fdbroker_files_total{outcome=\"busy\"}") + s.get(
        "fdbroker_files_total{outcome=\"granted\"}") >= 256 * 64);
    double inFlight = held.get("fdbroker_descriptors_in_flight");
    System.out.printf("RLIMIT_NOFILE %d; a uid that never reads: %.0f descriptors in flight, %.0f files answered busy%n",
        broker.nofile(), inFlight, held.get("fdbroker_files_total{outcome=\"busy\"}"));
    assertTrue(inFlight <= 4096, "the uid is held to its budget: " + inFlight);

    JsonNode other = openMany();
    assertEquals(60, countGranted(other), "another caller still gets its descriptors: " + other + "\n" + broker.log());
    Scrape after = Scrape.http(metrics());
    assertEquals(0.0, after.get("fdbroker_send_failures_total{reason=\"descriptors_refused\"}"), after.text());

    // Once the caller goes, everything it held is given back: the charge, and its connections.
    release(attacker);
    Scrape free = awaitScrape(s -> s.get("fdbroker_descriptors_in_flight") == 0
        && s.get("fdbroker_connections_active") == 0);
    assertEquals(0.0, free.get("fdbroker_descriptors_in_flight"));
  }

  @Test
  void theTotalBudgetHoldsAcrossUidsAndRecovers() throws Exception {
    start("limits: {max_descriptors_in_flight: 256, max_descriptors_in_flight_per_uid: 128}\n");
    Process a = hoard(ItSupport.NOBODY, "broker", broker.socket().toString(), "4", file.toString());
    awaitScrape(s -> s.get("fdbroker_descriptors_in_flight") == 128);
    Process b = hoard(ATTACKER2, "broker", broker.socket().toString(), "4", file.toString());
    awaitScrape(s -> s.get("fdbroker_descriptors_in_flight") == 256);
    JsonNode refused = openMany();
    assertEquals("busy", refused.get("error").asText(), "over the total, a caller is told busy: " + refused);
    assertTrue(refused.get("message").asText().contains("256 in all"), refused.toString());
    release(a);
    awaitScrape(s -> s.get("fdbroker_descriptors_in_flight") == 128);
    assertEquals(60, countGranted(openMany()), "served again once descriptors are received");
    release(b);
  }

  @Test
  void whenTheKernelRefusesTheDescriptorsTheCallerHearsBusyAndItIsCounted() throws Exception {
    Files.createDirectories(dir.resolve("log"));
    ItSupport.run(List.of("chown", HostBroker.USER, dir.resolve("log").toString()), Duration.ofSeconds(10)).assertExit(0);
    // At systemd's default limit, so that this test's own process can push the user past it.
    start("audit: {output: " + dir.resolve("log/audit.jsonl") + "}\n", HostBroker.Options.defaults().withNofile(1024));
    // Another process of the broker's user (say, a previous broker's clients never read) holds more
    // descriptors in flight than the broker's RLIMIT_NOFILE: the kernel refuses the broker's sends.
    long uid = Long.parseLong(ItSupport.run(List.of("id", "-u", HostBroker.USER), Duration.ofSeconds(10)).stdout().trim());
    Process hog = hoard(uid, "self", Integer.toString(broker.nofile() + 1000));
    JsonNode r = openMany();
    assertEquals("busy", r.get("error").asText(), r + "\n" + broker.log());
    assertTrue(r.get("message").asText().contains("kernel refused"), r.toString());
    Scrape s = Scrape.http(metrics());
    assertTrue(s.get("fdbroker_send_failures_total{reason=\"descriptors_refused\"}") >= 1, s.text());
    assertTrue(broker.log().contains("could not pass 60 descriptors"), broker.log());
    release(hog);
    assertEquals(60, countGranted(openMany()), "served again once the kernel lets go");
    assertEquals(0, broker.stop());
    String audit = Files.readString(dir.resolve("log/audit.jsonl"));
    assertTrue(audit.contains("\"decision\":\"allow\",\"rule\":\"test\",\"error\":\"not_delivered\""), audit);
  }

  /**
   * Opens the file 60 times in one request (the most junixsocket can receive at once), as the test
   * runner's uid.
   */
  private JsonNode openMany() throws Exception {
    try (RawClient c = new RawClient(broker.socket())) {
      JsonNode r = c.request("{\"op\":\"open\",\"paths\":[" + ("\"" + file + "\",").repeat(59) + "\"" + file + "\"]}");
      c.closeDescriptors();
      return r;
    }
  }

  private static int countGranted(JsonNode reply) {
    int n = 0;
    for (JsonNode f : reply.path("files")) {
      n += f.get("ok").asBoolean() ? 1 : 0;
    }
    return n;
  }

  private String metrics() {
    return "127.0.0.1:" + broker.metricsPort();
  }

  private Scrape awaitScrape(java.util.function.Predicate<Scrape> wanted) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    Scrape s = Scrape.http(metrics());
    while (!wanted.test(s)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("metrics never got there:\n" + s.text() + "\n" + broker.log());
      }
      Thread.sleep(100);
      s = Scrape.http(metrics());
    }
    return s;
  }

  /** Starts descriptor_hoarder.py as {@code uid} and waits until it holds what it was told to. */
  private Process hoard(long uid, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ItSupport.python(),
        ItSupport.property("fdbroker.test.python").resolve("descriptor_hoarder.py").toString()));
    cmd.addAll(List.of(args));
    // Enough descriptors of its own to hold what it sends.
    List<String> full = new ArrayList<>(List.of("prlimit", "--nofile=16384:16384", "--"));
    full.addAll(ItSupport.asUser(uid, uid == ItSupport.NOBODY ? ItSupport.NOGROUP : uid, cmd));
    Process p = new ProcessBuilder(full).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    hoarders.add(p);
    String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine();
    assertEquals("holding", line, "descriptor_hoarder " + String.join(" ", args));
    return p;
  }

  private static void release(Process hoarder) throws Exception {
    hoarder.getOutputStream().close();
    assertTrue(hoarder.waitFor(30, TimeUnit.SECONDS));
  }
}
