package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fdbroker.client.BrokeredFile;
import dev.fdbroker.client.FdBrokerClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The audit trail as an operator relies on it, with the broker as the unit runs it and an audit
 * file in a directory only the fdbroker user may write (LogsDirectory=): one line per decision
 * across any number of reloads and a log rotation, lines that line-based tools cannot split, and a
 * grant whose reply never reached the caller recorded as such.
 */
class AuditTrailIT {
  private Path dir;
  private Path files;
  private Path logs;
  private Path audit;
  private HostBroker broker;

  @BeforeEach
  void setUp() throws Exception {
    assumeTrue(ItSupport.isRoot(), "runs the broker as the fdbroker user");
    dir = ItSupport.worldReadableTempDir("fdbroker-audit-");
    files = Files.createDirectories(dir.resolve("files"));
    ItSupport.write(files.resolve("a.txt"), "a\n", "rw-------");
    ItSupport.write(files.resolve("b.txt"), "b\n", "rw-------");
    logs = Files.createDirectories(dir.resolve("log"));
    ItSupport.run(List.of("chown", HostBroker.USER + ":" + HostBroker.USER, logs.toString()), Duration.ofSeconds(10))
        .assertExit(0);
    Files.setPosixFilePermissions(logs, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-x---"));
    audit = logs.resolve("audit.jsonl");
    Path policy = Files.writeString(dir.resolve("policy.yaml"), "metrics: {listen: systemd}\naudit: {output: " + audit
        + "}\nlimits: {requests_per_second_per_uid: 100000000}\nrules:\n  - name: test\n    users: [" + ItSupport.myUid() + "]\n    allow: [\"" + files + "/**\"]\n"
        + "    deny: [\"" + files + "/denied*\"]\n");
    broker = HostBroker.start(dir, policy, HostBroker.Options.defaults().withMetricsSocket());
  }

  @AfterEach
  void tearDown() throws Exception {
    if (broker != null) {
      broker.close();
    }
    if (dir != null) {
      ItSupport.deleteTree(dir);
    }
  }

  @Test
  void everyDecisionIsOneLineAcrossAStormOfReloadsAndALogRotation() throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong decisions = new AtomicLong();
    List<Throwable> failures = new ArrayList<>();
    List<Thread> load = new ArrayList<>();
    try (FdBrokerClient client = FdBrokerClient.connect(broker.socket())) {
      for (int t = 0; t < 2; t++) {
        load.add(Thread.ofPlatform().start(() -> {
          try {
            for (long i = 0; !stop.get(); i++) {
              if (i % 10 == 0) {
                try (BrokeredFile f = client.open(files + "/denied.txt")) {
                  throw new AssertionError("a denied file was granted");
                } catch (AccessDeniedException expected) {
                  decisions.incrementAndGet();
                }
              } else {
                client.open(files + "/a.txt").close();
                decisions.incrementAndGet();
              }
            }
          } catch (Throwable e) {
            synchronized (failures) {
              failures.add(e);
            }
          }
        }));
      }
      for (int i = 0; i < 120; i++) {
        broker.signal("HUP");
        Thread.sleep(10);
      }
      // logrotate: rename the file, then reload; the broker starts a new one.
      Path rotated = logs.resolve("audit.jsonl.1");
      Files.move(audit, rotated);
      broker.signal("HUP");
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (!Files.exists(audit) && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertTrue(Files.exists(audit), "a reload after a rename creates a new file\n" + broker.log());
      for (int i = 0; i < 120; i++) {
        broker.signal("HUP");
        Thread.sleep(10);
      }
      Thread.sleep(300);
      stop.set(true);
      for (Thread t : load) {
        t.join();
      }
      assertEquals(List.of(), failures);
      Scrape metrics = Scrape.http("127.0.0.1:" + broker.metricsPort());
      assertEquals(0.0, metrics.get("fdbroker_audit_dropped_total"), metrics.text());
      assertTrue(metrics.get("fdbroker_policy_reloads_total{result=\"success\"}") >= 2, metrics.text());

      assertEquals(0, broker.stop(), broker.log()); // writes what it holds
      long inRotated = auditLines(rotated).size();
      long inNew = auditLines(audit).size();
      System.out.printf("audit across %s reloads: %d decisions, %d + %d lines%n",
          (long) metrics.get("fdbroker_policy_reloads_total{result=\"success\"}"), decisions.get(), inRotated, inNew);
      assertTrue(inNew > 0, "decisions after the rotation went to the new file");
      assertEquals(decisions.get(), inRotated + inNew, "one line per decision, none lost, none twice");
    }
  }

  @Test
  void aGrantWhoseReplyNeverReachedTheCallerIsAuditedAsNotDelivered() throws Exception {
    String a = files + "/a.txt";
    String b = files + "/b.txt";
    try (RawClient c = new RawClient(broker.socket())) {
      // Two requests at once: the first grants 60 files and the second 8, more than a client may
      // leave unread (64), so the second is answered only once the first reply is read; the client hangs up instead, so it cannot be sent.
      c.send(RawClient.frame("{\"id\":1,\"op\":\"open\",\"paths\":[" + ("\"" + a + "\",").repeat(59) + "\"" + a
              + "\"]}"))
          .send(RawClient.frame("{\"id\":2,\"op\":\"open\",\"paths\":[" + ("\"" + b + "\",").repeat(7) + "\"" + b
              + "\"]}"));
      Thread.sleep(300);
    }
    // A reply too large for a frame, to a request that fits one: 64 granted paths of 1000 bytes.
    Path deep = files;
    int component = (1000 - files.toString().length() - "/c.txt".length()) / 4 - 1;
    for (int i = 0; i < 4; i++) {
      deep = deep.resolve(Character.toString('p' + i).repeat(component));
    }
    String longPath = ItSupport.write(deep.resolve("c.txt"), "c\n", "rw-------").toString();
    try (RawClient c = new RawClient(broker.socket())) {
      String paths = ("\"" + longPath + "\",").repeat(63) + "\"" + longPath + "\"";
      JsonNode r = c.request("{\"id\":3,\"op\":\"open\",\"paths\":[" + paths + "]}");
      assertEquals("too_large", r.get("error").asText(), r.toString());
      // And a name holding characters that line-based tools end lines at.
      c.request("{\"id\":4,\"op\":\"open\",\"paths\":[\"" + files + "/x\\u2028y\\u2029z\\u0085\"]}");
    }
    assertEquals(0, broker.stop(), broker.log());

    List<JsonNode> lines = auditLines(audit);
    assertEquals(60 + 8 + 64 + 1, lines.size(), lines.toString());
    for (JsonNode l : lines.subList(0, 60)) {
      assertEquals(List.of("allow", "null"), List.of(l.get("decision").asText(), l.get("error").asText()));
    }
    for (JsonNode undelivered : lines.subList(60, 68)) {
      assertEquals(b, undelivered.get("path").asText());
      assertEquals("allow", undelivered.get("decision").asText());
      assertEquals("not_delivered", undelivered.get("error").asText(), "a send that failed: " + undelivered);
    }
    for (JsonNode l : lines.subList(68, 132)) {
      assertEquals(longPath, l.get("path").asText());
      assertEquals("too_large", l.get("error").asText(), "a reply too large to send: " + l);
    }
    assertEquals(files + "/x\u2028y\u2029z\u0085", lines.get(132).get("path").asText());
  }

  /**
   * The lines of an audit file, each parsed. Split the way line-based tools split: at every
   * character Python's splitlines ends a line at; each piece must be a whole record.
   */
  private static List<JsonNode> auditLines(Path file) throws Exception {
    String text = Files.readString(file, StandardCharsets.UTF_8);
    List<JsonNode> lines = new ArrayList<>();
    for (String line : text.split("[\\n\\r\\u000b\\u000c\\u001c\\u001d\\u001e\\u0085\\u2028\\u2029]")) {
      if (!line.isEmpty()) {
        lines.add(Fixture.JSON.readTree(line));
      }
    }
    return lines;
  }
}
