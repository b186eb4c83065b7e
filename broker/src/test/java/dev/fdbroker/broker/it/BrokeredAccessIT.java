package dev.fdbroker.broker.it;

import static dev.fdbroker.broker.it.ItSupport.NOBODY;
import static dev.fdbroker.broker.it.ItSupport.NOGROUP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * The whole path as a sandboxed worker uses it: the broker runs as root, the worker is a separate
 * process running as nobody, speaking the protocol with nothing but Python's standard library.
 * Both opener strategies are exercised: openat2, and the component walk used where openat2 is missing.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BrokeredAccessIT {
  private final Map<String, Fixture> brokers = new LinkedHashMap<>();
  private final List<AFUNIXServerSocket> socketFiles = new ArrayList<>();

  @BeforeAll
  void startBrokers() throws Exception {
    assumeTrue(ItSupport.isRoot(), "needs root: the worker drops to nobody with setpriv");
    brokers.put("openat2", Fixture.start(""));
    brokers.put("walk", Fixture.start("", "-Dfdbroker.opener=walk"));
    for (Map.Entry<String, Fixture> e : brokers.entrySet()) {
      Fixture f = e.getValue();
      assertTrue(f.broker.log().contains("opener " + e.getKey()), f.broker.log());
      socketFiles.add(AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(f.allowed.resolve("a-socket")), true));
    }
  }

  @AfterAll
  void stopBrokers() throws Exception {
    for (AFUNIXServerSocket s : socketFiles) {
      s.close();
    }
    for (Fixture f : brokers.values()) {
      f.close();
    }
  }

  static Map<String, Object> open(List<String> paths) {
    return Map.of("id", 1, "op", "open", "paths", paths);
  }

  @ParameterizedTest
  @ValueSource(strings = {"openat2", "walk"})
  void unprivilegedWorkerReadsARootOnlyFileButCannotWriteIt(String opener) throws Exception {
    Fixture f = brokers.get(opener);
    JsonNode report = f.probe(NOBODY, NOGROUP, List.of(open(List.of(f.secret.toString()))), "--direct", f.secret.toString());

    assertEquals(NOBODY, report.get("uid").asLong());
    // Without the broker, the worker cannot open the file at all: the test proves something.
    assertEquals("EACCES", report.at("/direct/" + escape(f.secret.toString())).asText());

    JsonNode reply = report.at("/replies/0/reply");
    assertEquals(1, reply.get("id").asInt());
    assertTrue(reply.get("ok").asBoolean());
    JsonNode file = reply.at("/files/0");
    assertEquals(f.secret.toString(), file.get("path").asText());
    assertTrue(file.get("ok").asBoolean(), file.toString());
    assertEquals(0, file.get("fd").asInt());
    assertEquals(Fixture.SECRET.length(), file.get("size").asInt());

    JsonNode fd = report.at("/replies/0/fds/0");
    assertEquals(1, report.at("/replies/0/fds").size());
    assertEquals(Files.getAttribute(f.secret, "unix:ino"), fd.get("ino").asLong());
    assertEquals(Fixture.SECRET, new String(Base64.getDecoder().decode(fd.get("content_b64").asText()), StandardCharsets.UTF_8));
    assertEquals("EBADF", fd.get("write_error").asText(), "the descriptor must be read-only");
  }

  private static String escape(String jsonPointerToken) {
    return jsonPointerToken.replace("~", "~0").replace("/", "~1");
  }

  @ParameterizedTest
  @ValueSource(strings = {"openat2", "walk"})
  void everyRefusalCarriesTheRightCodeAndTheBrokerKeepsServing(String opener) throws Exception {
    Fixture f = brokers.get(opener);
    String a = f.allowed.toString();
    long brokerPid = f.broker.pid();
    Map<String, String> cases = new LinkedHashMap<>();
    cases.put(a + "/public.txt", "ok");
    cases.put(a + "/sub/deep.txt", "ok");
    cases.put(f.outsideSecret.toString(), "denied");
    cases.put(f.root + "/outside/does-not-exist", "denied");
    cases.put(a + "/private/key.txt", "denied");
    cases.put(a + "/no-such-file", "not_found");
    cases.put(a + "/public.txt/not-a-dir", "not_found");
    cases.put(a + "/../outside/secret.txt", "bad_request");
    cases.put(a + "/./public.txt", "bad_request");
    cases.put(a + "//public.txt", "bad_request");
    cases.put(a + "/sub/", "bad_request");
    cases.put("relative/path", "bad_request");
    cases.put(a + "/link-to-outside", "symlink");
    cases.put(a + "/linkdir/secret.txt", "symlink");
    cases.put(a + "/fifo", "not_regular");
    cases.put(a + "/dir", "not_regular");
    cases.put(a + "/a-socket", "not_regular");
    cases.put("/dev/null", "not_regular");
    cases.put("/dev/fd/0", "symlink");
    cases.put("/proc/self/fd/0", "symlink");
    cases.put("/proc/" + brokerPid + "/fd/0", "symlink");
    cases.put("/proc/" + brokerPid + "/root/etc/passwd", "symlink");
    cases.put("/proc/" + brokerPid + "/cwd/x", "symlink");

    long started = System.nanoTime();
    List<String> paths = new ArrayList<>(cases.keySet());
    JsonNode report = f.probe(NOBODY, NOGROUP, List.of(open(paths), Map.of("id", "after", "op", "ping")));
    assertTrue(Duration.ofNanos(System.nanoTime() - started).toSeconds() < 30, "a FIFO must not hang the broker");

    JsonNode files = report.at("/replies/0/reply/files");
    assertEquals(paths.size(), files.size());
    int granted = 0;
    for (int i = 0; i < paths.size(); i++) {
      JsonNode file = files.get(i);
      String expected = cases.get(paths.get(i));
      String actual = file.get("ok").asBoolean() ? "ok" : file.get("error").asText();
      assertEquals(expected, actual, paths.get(i) + " -> " + file);
      assertEquals(paths.get(i), file.get("path").asText());
      if (file.get("ok").asBoolean()) {
        assertEquals(granted++, file.get("fd").asInt());
      } else {
        assertTrue(file.get("message").asText().length() > 5, file.toString());
      }
    }
    assertEquals(granted, report.at("/replies/0/fds").size());
    // A denial is decided before the filesystem is touched: an existing and a missing file look alike.
    assertEquals(files.get(paths.indexOf(f.outsideSecret.toString())).get("message"),
        files.get(paths.indexOf(f.root + "/outside/does-not-exist")).get("message"));
    JsonNode pong = report.at("/replies/1/reply");
    assertEquals("after", pong.get("id").asText());
    assertEquals(1, pong.get("protocol").asInt());
  }

  @Test
  void pythonReceivesAFullBatchOf64DescriptorsInOneMessage() throws Exception {
    Fixture f = brokers.get("openat2");
    List<String> paths = new ArrayList<>(Collections.nCopies(64, f.allowed + "/public.txt"));
    paths.set(10, f.outsideSecret.toString());
    JsonNode report = f.probe(NOBODY, NOGROUP, List.of(open(paths)));
    JsonNode files = report.at("/replies/0/reply/files");
    assertEquals(64, files.size());
    assertEquals("denied", files.get(10).get("error").asText());
    assertEquals(63, report.at("/replies/0/fds").size());
    assertEquals(62, files.get(63).get("fd").asInt());
    for (JsonNode fd : report.at("/replies/0/fds")) {
      assertEquals("public\n", new String(Base64.getDecoder().decode(fd.get("content_b64").asText()), StandardCharsets.UTF_8));
    }
  }

  @Test
  void groupRulesMatchTheCallersPrimaryGroupAndOthersGetNothing() throws Exception {
    Fixture f = brokers.get("openat2");
    String pub = f.allowed + "/public.txt";
    // uid 40000 is in no rule, but gid 12345 is.
    JsonNode byGroup = f.probe(40000, 12345, List.of(open(List.of(pub))));
    assertTrue(byGroup.at("/replies/0/reply/files/0/ok").asBoolean(), byGroup.toString());
    // Neither uid nor gid listed: default deny.
    JsonNode stranger = f.probe(40000, 40000, List.of(open(List.of(pub))));
    assertEquals("denied", stranger.at("/replies/0/reply/files/0/error").asText());
    // A numeric uid without a passwd entry works as well as a name.
    JsonNode numeric = f.probe(64001, 40000, List.of(open(List.of(pub))));
    assertTrue(numeric.at("/replies/0/reply/files/0/ok").asBoolean(), numeric.toString());
  }

  @Test
  void idsAbove2To31AreComparedUnsigned() throws Exception {
    Fixture f = brokers.get("openat2");
    List<String> paths = List.of(f.allowed + "/public.txt", f.secret.toString());
    // uid 3000000000 and gid 3000000001 do not fit a signed int; the rule naming them must bind.
    for (long[] ids : new long[][] {{3_000_000_000L, 40000}, {40000, 3_000_000_001L}}) {
      JsonNode files = f.probe(ids[0], ids[1], List.of(open(paths))).at("/replies/0/reply/files");
      assertTrue(files.get(0).get("ok").asBoolean(), files.toString());
      assertEquals("denied", files.get(1).get("error").asText(), "the deny of rule high-ids: " + files);
    }
  }

  @Test
  void theBrokerLeaksNoDescriptorsAcrossManyRequests() throws Exception {
    Fixture f = brokers.get("openat2");
    List<String> paths = List.of(f.secret.toString(), f.allowed + "/fifo", f.allowed + "/dir",
        f.allowed + "/link-to-outside", f.allowed + "/no-such-file", f.outsideSecret.toString());
    f.probe(NOBODY, NOGROUP, List.of(open(paths))); // warm up lazily opened JVM descriptors
    int baseline = f.broker.quiescentDescriptors();
    List<Object> requests = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      requests.add(open(paths));
    }
    for (int round = 0; round < 3; round++) {
      f.probe(NOBODY, NOGROUP, requests);
    }
    int after = BrokerProcess.settlesTo(f.broker::openDescriptors, baseline);
    assertTrue(after <= baseline, "broker descriptors after 150 requests: " + after + ", before " + baseline);
  }
}
