package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * stat and list against real brokers (both openers as root, and the broker as the unit runs it:
 * its own user, only CAP_DAC_READ_SEARCH), over a tree with links, a FIFO, denied entries, a
 * directory reachable only on the way to an allowed file, files owned by another user, and a
 * directory of 10,000 entries listed in pages.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StatAndListIT {
  private static final int BIG = 10_000;

  private Path dir;
  private Path t;
  private final Map<String, RunningBroker> brokers = new LinkedHashMap<>();
  private final Map<String, Path> audits = new LinkedHashMap<>();

  @BeforeAll
  void start() throws Exception {
    assumeTrue(ItSupport.isRoot(), "needs root: a file is given to another user, and one broker runs as the unit's user");
    dir = ItSupport.worldReadableTempDir("fdbroker-statlist-");
    t = Files.createDirectories(dir.resolve("t"));
    ItSupport.write(t.resolve("pub/a.txt"), "a\n", "rw-r--r--");
    ItSupport.write(t.resolve("pub/b.txt"), "bb\n", "rw-------");
    ItSupport.write(t.resolve("pub/private/key"), "k\n", "rw-------");
    ItSupport.write(t.resolve("pub/sub/deep.txt"), "deep\n", "rw-r--r--");
    Files.createSymbolicLink(t.resolve("pub/link"), Path.of("/etc/passwd"));
    Files.createSymbolicLink(t.resolve("pub/linkdir"), t.resolve("pub/sub"));
    ItSupport.mkfifo(t.resolve("pub/fifo"));
    ItSupport.write(t.resolve("other/x.txt"), "x\n", "rw-r--r--");
    ItSupport.write(t.resolve("way/to/data.txt"), "data\n", "rw-r--r--");
    ItSupport.write(t.resolve("way/nope.txt"), "nope\n", "rw-r--r--");
    ItSupport.write(t.resolve("file"), "a file where a directory could be\n", "rw-r--r--");
    ItSupport.write(t.resolve("home/mine.txt"), "mine\n", "rw-r--r--");
    ItSupport.write(t.resolve("home/theirs.txt"), "theirs\n", "rw-r--r--");
    ItSupport.run(List.of("chown", "65534", t.resolve("home/theirs.txt").toString()), Duration.ofSeconds(10)).assertExit(0);
    Path big = Files.createDirectories(t.resolve("big"));
    for (int i = 0; i < BIG; i++) {
      Files.createFile(big.resolve(String.format("f%05d.%s", i, i % 3 == 0 ? "dat" : "txt")));
    }
    Files.setPosixFilePermissions(t.resolve("pub"), java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    Path logs = Files.createDirectories(dir.resolve("log"));
    ItSupport.run(List.of("chown", HostBroker.USER + ":" + HostBroker.USER, logs.toString()), Duration.ofSeconds(10));
    for (String name : List.of("openat2", "walk", "host")) {
      Path audit = logs.resolve(name + ".jsonl");
      audits.put(name, audit);
      Path policy = Files.writeString(dir.resolve(name + ".yaml"), """
          audit: {output: %s}
          rules:
            - name: runner
              users: [%d]
              allow: ["T/pub/**", "T/*/to/data.txt", "T/big/*.txt"]
              deny: ["T/pub/private/**", "T/big/*7.txt"]
            - name: own-home
              users: [%d]
              owner: caller
              allow: ["T/home/**"]
          """.replace("T/", t + "/").formatted(audit, ItSupport.myUid(), ItSupport.myUid()));
      brokers.put(name, switch (name) {
        case "host" -> HostBroker.start(Files.createDirectories(dir.resolve("host")), policy, HostBroker.Options.defaults());
        case "walk" -> BrokerProcess.start(policy, dir.resolve("walk.sock"), "-Dfdbroker.opener=walk");
        default -> BrokerProcess.start(policy, dir.resolve("openat2.sock"));
      });
    }
  }

  @AfterAll
  void stop() throws Exception {
    for (RunningBroker b : brokers.values()) {
      b.close();
    }
    if (dir != null) {
      ItSupport.deleteTree(dir);
    }
  }

  private JsonNode stat(RawClient c, String... paths) throws Exception {
    return c.request(Fixture.JSON.writeValueAsString(Map.of("id", 1, "op", "stat", "paths", List.of(paths))));
  }

  private static JsonNode list(RawClient c, String path, String cursor) throws Exception {
    Map<String, Object> req = new LinkedHashMap<>();
    req.put("id", "l");
    req.put("op", "list");
    req.put("path", path);
    req.put("cursor", cursor);
    return c.request(Fixture.JSON.writeValueAsString(req));
  }

  /** Every page of a listing: name to entry; fails on a name listed twice. */
  private static Map<String, JsonNode> listAll(RawClient c, String path, int[] pages) throws Exception {
    Map<String, JsonNode> all = new LinkedHashMap<>();
    String cursor = null;
    do {
      JsonNode reply = list(c, path, cursor);
      assertTrue(reply.get("ok").asBoolean(), reply.toString());
      for (JsonNode e : reply.get("entries")) {
        assertEquals(null, all.put(e.get("name").asText(), e), "listed twice: " + e);
      }
      cursor = reply.get("cursor").isNull() ? null : reply.get("cursor").asText();
      pages[0]++;
    } while (cursor != null);
    return all;
  }

  private static String error(JsonNode reply) {
    return reply.get("ok").asBoolean() ? "ok" : reply.get("error").asText();
  }

  @ParameterizedTest
  @ValueSource(strings = {"openat2", "walk", "host"})
  void statDescribesWhatThePolicyLetsTheCallerSee(String broker) throws Exception {
    try (RawClient c = new RawClient(brokers.get(broker).socket())) {
      JsonNode ping = c.request("{\"op\":\"ping\"}");
      assertEquals("[\"open\",\"stat\",\"list\",\"ping\"]", ping.get("ops").toString());
      String p = t + "/pub";
      JsonNode files = stat(c, p + "/b.txt", p, p + "/link", p + "/fifo", p + "/private/key", p + "/linkdir/deep.txt",
          p + "/missing", t.toString(), t + "/way", t + "/way/nope.txt", t + "/file", "/", t + "/other",
          p + "//a.txt", t + "/home/mine.txt", t + "/home/theirs.txt").get("files");
      JsonNode b = files.get(0);
      assertEquals("file", b.get("type").asText(), b.toString());
      assertEquals(3, b.get("size").asLong());
      assertEquals(0600, b.get("mode").asInt());
      FileTime mtime = Files.getLastModifiedTime(t.resolve("pub/b.txt"));
      assertEquals(mtime.to(TimeUnit.SECONDS) * 1_000_000_000L + mtime.toInstant().getNano(), b.get("mtime_ns").asLong());
      assertFalse(b.has("fd"), "a stat hands out no descriptor");
      assertEquals(0, c.lastDescriptors.length);
      assertEquals("dir", files.get(1).get("type").asText(), "allowed by pub/**, which matches pub itself");
      assertEquals(0700, files.get(1).get("mode").asInt());
      assertFalse(files.get(1).has("size"));
      JsonNode link = files.get(2);
      assertEquals("symlink", link.get("type").asText(), "described as itself, never followed");
      assertEquals(Files.getLastModifiedTime(t.resolve("pub/link"), LinkOption.NOFOLLOW_LINKS).toMillis(),
          link.get("mtime_ns").asLong() / 1_000_000);
      assertEquals("other", files.get(3).get("type").asText());
      assertEquals("denied", error(files.get(4)));
      assertEquals("symlink", error(files.get(5)), "a link before the last component is never crossed");
      assertEquals("not_found", error(files.get(6)));
      assertEquals("dir", files.get(7).get("type").asText(), "on the way to T/pub/**");
      assertEquals("dir", files.get(8).get("type").asText(), "on the way to T/*/to/data.txt");
      assertEquals("denied", error(files.get(9)), "a file beside the way is not on it");
      assertEquals("not_found", error(files.get(10)), "T/*/to/data.txt can go through T/file only if it is a directory");
      assertEquals("dir", files.get(11).get("type").asText(), "the root is on the way too");
      assertEquals("dir", files.get(12).get("type").asText(), "T/other could hold to/data.txt");
      assertEquals("bad_request", error(files.get(13)));
      assertEquals("file", files.get(14).get("type").asText(), "owner: caller, and the caller owns it");
      assertEquals("denied", error(files.get(15)), "owner: caller, and another user owns it");
      // The same requests through open: stat grants no more than it describes.
      JsonNode opened = c.request(Fixture.JSON.writeValueAsString(Map.of("op", "open", "paths",
          List.of(t.toString(), p + "/link", t + "/way/nope.txt")))).get("files");
      assertEquals("denied", error(opened.get(0)));
      assertEquals("symlink", error(opened.get(1)));
      assertEquals("denied", error(opened.get(2)));
      c.closeDescriptors();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"openat2", "walk", "host"})
  void listShowsOnlyWhatStatWould(String broker) throws Exception {
    try (RawClient c = new RawClient(brokers.get(broker).socket())) {
      int[] pages = {0};
      Map<String, JsonNode> pub = listAll(c, t + "/pub", pages);
      assertEquals(new TreeSet<>(List.of("a.txt", "b.txt", "link", "linkdir", "fifo", "sub")), new TreeSet<>(pub.keySet()),
          "private/ is denied by T/pub/private/**, which matches the directory itself");
      assertEquals("symlink", pub.get("link").get("type").asText());
      assertEquals("symlink", pub.get("linkdir").get("type").asText());
      assertEquals("other", pub.get("fifo").get("type").asText());
      assertEquals("dir", pub.get("sub").get("type").asText());
      assertEquals(2, pub.get("a.txt").get("size").asLong());
      assertEquals(0644, pub.get("a.txt").get("mode").asInt());

      Map<String, JsonNode> top = listAll(c, t.toString(), pages);
      assertEquals(new TreeSet<>(List.of("pub", "way", "big", "other", "home")), new TreeSet<>(top.keySet()),
          "every directory on a way to an allowed pattern, and no file");
      assertEquals(Set.of("to"), listAll(c, t + "/way", pages).keySet());
      assertEquals(Set.of("data.txt"), listAll(c, t + "/way/to", pages).keySet());
      assertEquals(Set.of("mine.txt"), listAll(c, t + "/home", pages).keySet(), "owner: caller hides the others' files");
      assertEquals(Set.of(), listAll(c, t + "/other", pages).keySet(), "a way that leads nowhere here lists empty");

      assertEquals("not_directory", error(list(c, t + "/pub/a.txt", null)));
      assertEquals("not_found", error(list(c, t + "/file", null)), "only a way through, and not a directory");
      assertEquals("symlink", error(list(c, t + "/pub/linkdir", null)));
      assertEquals("denied", error(list(c, t + "/pub/private", null)));
      assertEquals("not_found", error(list(c, t + "/pub/none", null)));
      assertEquals("bad_request", error(list(c, t + "/pub/", null)));
      assertEquals("ok", error(c.request("{\"op\":\"ping\"}")), "refusals leave the connection usable");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"openat2", "walk", "host"})
  void aBigDirectoryListsCompletelyInPagesThatEachFitAFrame(String broker) throws Exception {
    try (RawClient c = new RawClient(brokers.get(broker).socket())) {
      int[] pages = {0};
      Map<String, JsonNode> big = listAll(c, t + "/big", pages);
      Set<String> expected = new HashSet<>();
      for (int i = 0; i < BIG; i++) {
        if (i % 3 != 0 && i % 10 != 7) {
          expected.add(String.format("f%05d.txt", i));
        }
      }
      assertEquals(expected, big.keySet(), "every allowed entry once; .dat and *7.txt never");
      assertTrue(pages[0] >= 3, "in pages: " + pages[0]);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"openat2", "walk", "host"})
  void cursorsAreCheckedAndHoldNothing(String broker) throws Exception {
    try (RawClient c = new RawClient(brokers.get(broker).socket())) {
      JsonNode first = list(c, t + "/big", null);
      String cursor = first.get("cursor").asText();
      // Another connection goes on from it: the broker kept nothing for the first.
      try (RawClient other = new RawClient(brokers.get(broker).socket())) {
        JsonNode second = list(other, t + "/big", cursor);
        assertTrue(second.get("ok").asBoolean(), second.toString());
        Set<String> names = new HashSet<>();
        first.get("entries").forEach(e -> names.add(e.get("name").asText()));
        second.get("entries").forEach(e -> assertTrue(names.add(e.get("name").asText()), "repeated: " + e));
      }
      assertEquals("bad_request", error(list(c, t + "/pub", cursor)), "a cursor of another directory");
      long inode = (Long) Files.getAttribute(t.resolve("big"), "unix:ino");
      for (String forged : List.of("zz", "1:2", Long.toHexString(inode) + ":0", Long.toHexString(inode) + ":7fffffffffffffff",
          cursor.substring(1) + "A", cursor.substring(0, cursor.length() - 1))) {
        assertEquals("bad_request", error(list(c, t + "/big", forged)), forged);
      }
      assertEquals("denied", error(list(c, t + "/pub/private", cursor)), "the policy first, the cursor after");
      // Another broker's cursor for the same directory: sealed under another key.
      try (RawClient other = new RawClient(brokers.get(broker.equals("walk") ? "openat2" : "walk").socket())) {
        assertEquals("bad_request", error(list(other, t + "/big", cursor)), "another broker's cursor");
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"openat2", "host"})
  void everyStatAndListIsAudited(String broker) throws Exception {
    Path audit = audits.get(broker);
    String marker = t + "/pub/audit-" + System.nanoTime();
    try (RawClient c = new RawClient(brokers.get(broker).socket())) {
      stat(c, marker, t + "/pub/private/key");
      list(c, t + "/pub/private", null);
      list(c, t + "/way", null);
    }
    List<JsonNode> lines = new ArrayList<>();
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (System.nanoTime() < deadline) {
      lines.clear();
      if (Files.exists(audit)) {
        for (String line : Files.readAllLines(audit)) {
          lines.add(Fixture.JSON.readTree(line));
        }
      }
      if (lines.stream().anyMatch(l -> l.get("path").asText().equals(t + "/way") && l.get("op").asText().equals("list"))) {
        break;
      }
      Thread.sleep(50);
    }
    JsonNode statLine = lines.stream().filter(l -> l.get("path").asText().equals(marker)).findFirst().orElseThrow();
    assertEquals("stat", statLine.get("op").asText());
    assertEquals("allow", statLine.get("decision").asText());
    assertEquals("not_found", statLine.get("error").asText());
    assertTrue(lines.stream().anyMatch(l -> l.get("op").asText().equals("stat")
        && l.get("path").asText().equals(t + "/pub/private/key") && l.get("decision").asText().equals("deny")));
    assertTrue(lines.stream().anyMatch(l -> l.get("op").asText().equals("list")
        && l.get("path").asText().equals(t + "/pub/private") && l.get("decision").asText().equals("deny")));
    JsonNode way = lines.stream().filter(l -> l.get("op").asText().equals("list")
        && l.get("path").asText().equals(t + "/way")).findFirst().orElseThrow();
    assertEquals("allow", way.get("decision").asText());
    assertEquals("runner", way.get("rule").asText(), "the rule whose pattern lies below");
  }
}
