package dev.fdbroker.broker.it;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fdbroker.broker.posix.Posix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * List cursors reveal nothing and cannot be forged, and a page's bound holds whatever the names.
 * Each of these failed before cursors were sealed (found by a review of issue 12):
 *
 * <ul>
 *   <li>A cursor was the raw getdents position. When a page stops after {@code MAX_EXAMINED}
 *       entries, the cursor is the position of the next entry, which may be one the caller may not
 *       see; and a forged cursor moves that boundary anywhere, so comparing the cursors returned
 *       for two forged positions tells whether a hidden entry sits between them. On ext4 a
 *       position is the keyed hash of the name, which anyone who can create a file on the same
 *       filesystem can compute (create the name in a scratch directory, read its d_off): an
 *       existence oracle for guessed names the policy hides.
 *   <li>Names that are not UTF-8 were skipped inside DirectoryReader.next() and never counted, so
 *       a directory of them is read whole in one request, whatever the page bound.
 *   <li>A cursor named the directory by inode only: another filesystem's directory with the same
 *       inode number takes it, though docs/protocol.md says it is answered bad_request.
 * </ul>
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ListCursorIT {
  private static final int HIDDEN = 9_000;

  private Path dir;
  private Path state;
  private Path big;
  private Path unnamable;
  private Path m1;
  private Path m2;
  private boolean mounted;
  private RunningBroker broker;

  @BeforeAll
  void start() throws Exception {
    assumeTrue(ItSupport.isRoot(), "needs root: mounts two tmpfs");
    dir = ItSupport.worldReadableTempDir("fdbroker-cursor-");
    big = Files.createDirectories(dir.resolve("big"));
    Files.writeString(big.resolve("a.txt"), "visible\n");
    Files.writeString(big.resolve("id_rsa"), "hidden\n");
    for (int i = 0; i < HIDDEN; i++) {
      Files.createFile(big.resolve(String.format("h%05d.dat", i)));
    }
    unnamable = Files.createDirectories(dir.resolve("unnamable"));
    Files.writeString(unnamable.resolve("a.txt"), "visible\n");
    byte[] prefix = unnamable.toString().getBytes(StandardCharsets.UTF_8);
    // Names with a 0xff byte cannot be made through java.nio.file; python can.
    ItSupport.run(List.of(ItSupport.python(), "-c",
        "import os\nos.chdir(" + pyBytes(prefix) + ")\nfor i in range(20000): os.close(os.open(b'\\xff%07d' % i, os.O_CREAT | os.O_WRONLY))"),
        Duration.ofSeconds(120)).assertExit(0);
    m1 = Files.createDirectories(dir.resolve("m1"));
    m2 = Files.createDirectories(dir.resolve("m2"));
    ItSupport.run(List.of("mount", "-t", "tmpfs", "review-m1", m1.toString()), Duration.ofSeconds(10)).assertExit(0);
    mounted = true;
    ItSupport.run(List.of("mount", "-t", "tmpfs", "review-m2", m2.toString()), Duration.ofSeconds(10)).assertExit(0);
    for (int i = 0; i < 3000; i++) {
      Files.createFile(m1.resolve(String.format("a%05d.txt", i)));
      Files.createFile(m2.resolve(String.format("b%05d.txt", i)));
    }
    Path policy = Files.writeString(dir.resolve("policy.yaml"), """
        rules:
          - name: r
            users: [%d]
            allow: ["D/big/*.txt", "D/unnamable/*.txt", "D/m1/**", "D/m2/**"]
        """.replace("D/", dir + "/").formatted(ItSupport.myUid()));
    // As the unit runs it: its own user, CAP_DAC_READ_SEARCH only, and the key that seals cursors
    // in its state directory (StateDirectory=, 0700, the broker's own).
    state = Files.createDirectories(dir.resolve("state"));
    ItSupport.run(List.of("chown", HostBroker.USER + ":" + HostBroker.USER, state.toString()), Duration.ofSeconds(10))
        .assertExit(0);
    Files.setPosixFilePermissions(state, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    broker = HostBroker.start(Files.createDirectories(dir.resolve("host")), policy,
        HostBroker.Options.defaults().withEnv("STATE_DIRECTORY", state.toString()));
  }

  @Test
  void theSealingKeyIsTheBrokersOwnInItsStateDirectory() throws Exception {
    Path key = state.resolve("cursor.key");
    assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(key)));
    assertEquals(HostBroker.USER, Files.getOwner(key).getName());
    assertEquals(16, Files.size(key));
  }

  private static String pyBytes(byte[] b) {
    StringBuilder s = new StringBuilder("b'");
    for (byte x : b) {
      s.append(String.format("\\x%02x", x & 0xff));
    }
    return s.append('\'').toString();
  }

  @AfterAll
  void stop() throws Exception {
    if (broker != null) {
      broker.close();
    }
    if (mounted) {
      ItSupport.run(List.of("umount", m1.toString()), Duration.ofSeconds(10));
      ItSupport.run(List.of("umount", m2.toString()), Duration.ofSeconds(10));
    }
    if (dir != null) {
      ItSupport.deleteTree(dir);
    }
  }

  private static JsonNode list(RawClient c, String path, String cursor) throws Exception {
    Map<String, Object> req = new LinkedHashMap<>();
    req.put("id", 1);
    req.put("op", "list");
    req.put("path", path);
    req.put("cursor", cursor);
    return c.request(Fixture.JSON.writeValueAsString(req));
  }

  /** (name, position) of every entry, in the kernel's order: position is where a seek lands on it. */
  private static List<Map.Entry<String, Long>> positions(Path d) {
    List<Map.Entry<String, Long>> out = new ArrayList<>();
    int fd = Posix.openat(Posix.AT_FDCWD, d.toString(), Posix.O_RDONLY | Posix.O_DIRECTORY | Posix.O_CLOEXEC);
    assertTrue(fd >= 0);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(32 * 1024, 8);
      long previous = 0;
      int n;
      while ((n = Posix.readDirectory(fd, buf)) > 0) {
        for (int at = 0; at < n; ) {
          long next = buf.get(JAVA_LONG, at + 8);
          int reclen = buf.get(JAVA_SHORT, at + 16) & 0xffff;
          int end = at + 19;
          while (buf.get(JAVA_BYTE, end) != 0) {
            end++;
          }
          String name = new String(buf.asSlice(at + 19, end - at - 19).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
          out.add(Map.entry(name, previous));
          previous = next;
          at += reclen;
        }
      }
    } finally {
      Posix.close(fd);
    }
    return out;
  }

  @Test
  void aPageCursorDoesNotGiveAwayWhereAHiddenEntryIs() throws Exception {
    List<Map.Entry<String, Long>> order = positions(big);
    try (RawClient c = new RawClient(broker.socket())) {
      JsonNode page = list(c, big.toString(), null);
      assertTrue(page.get("ok").asBoolean(), page.toString());
      String cursor = page.get("cursor").asText();
      // No position of a hidden entry appears in it, in hex or decimal (positions of 6 digits and
      // more: on ext4, the keyed hash of the name, which the caller could match against guesses).
      for (Map.Entry<String, Long> e : order) {
        String hex = Long.toHexString(e.getValue());
        String dec = Long.toUnsignedString(e.getValue());
        if (!e.getKey().endsWith(".txt") && hex.length() >= 6) {
          assertFalse(cursor.toLowerCase().contains(hex) || cursor.contains(dec),
              "the first page's cursor " + cursor + " holds the position of " + e.getKey() + ", an entry the caller may not see");
        }
      }
      assertFalse(cursor.matches("[0-9a-f]+:[0-9a-f]+"), "a raw inode:position cursor: " + cursor);
    }
  }

  @Test
  void forgedCursorsDoNotTellWhetherAHiddenNameExists() throws Exception {
    List<Map.Entry<String, Long>> order = positions(big);
    // A hidden entry with more than MAX_EXAMINED entries after it; an attacker would get its
    // position from a scratch directory of its own on the same filesystem (ext4: same hash seed).
    Map.Entry<String, Long> target = order.stream().skip(10)
        .filter(e -> !e.getKey().endsWith(".txt") && !e.getKey().startsWith(".")).findFirst().orElseThrow();
    long p = target.getValue();
    try (RawClient c = new RawClient(broker.socket())) {
      String inode = Long.toHexString((Long) java.nio.file.Files.getAttribute(big, "unix:ino"));
      JsonNode onIt = list(c, big.toString(), inode + ":" + Long.toHexString(p));
      JsonNode pastIt = list(c, big.toString(), inode + ":" + Long.toHexString(p + 1));
      // Either forged cursors are refused, or the two answers must be alike: the caller sees
      // nothing between p and p + 1.
      boolean refused = !onIt.get("ok").asBoolean() && !pastIt.get("ok").asBoolean();
      assertTrue(refused || onIt.equals(pastIt),
          "cursor at " + target.getKey() + " (hidden) answers " + onIt.get("cursor") + ", one past it "
              + pastIt.get("cursor") + ": the difference says an entry the caller may not see is there");
    }
  }

  @Test
  void anAlteredCursorIsRefused() throws Exception {
    try (RawClient c = new RawClient(broker.socket())) {
      String cursor = list(c, big.toString(), null).get("cursor").asText();
      assertTrue(list(c, big.toString(), cursor).get("ok").asBoolean());
      char[] altered = cursor.toCharArray();
      for (int i = 0; i < altered.length; i += 7) {
        char[] one = altered.clone();
        one[i] = one[i] == 'A' ? 'B' : 'A';
        assertEquals("bad_request", list(c, big.toString(), new String(one)).path("error").asText(), new String(one));
      }
    }
  }

  @Test
  void namesThatAreNotUtf8CountTowardsThePageBound() throws Exception {
    try (RawClient c = new RawClient(broker.socket())) {
      long t0 = System.nanoTime();
      JsonNode page = list(c, unnamable.toString(), null);
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(page.get("ok").asBoolean(), page.toString());
      assertFalse(page.get("cursor").isNull(),
          "one page read all 20,001 entries (" + ms + " ms) though a page stops after a few thousand:"
              + " names skipped as not UTF-8 are never counted");
    }
  }

  @Test
  void aCursorOfAnotherFilesystemsDirectoryWithTheSameInodeIsRefused() throws Exception {
    long i1 = (Long) Files.getAttribute(m1, "unix:ino");
    long i2 = (Long) Files.getAttribute(m2, "unix:ino");
    assumeTrue(i1 == i2, "tmpfs roots share an inode number");
    try (RawClient c = new RawClient(broker.socket())) {
      JsonNode first = list(c, m1.toString(), null);
      assertFalse(first.get("cursor").isNull(), first.toString());
      JsonNode other = list(c, m2.toString(), first.get("cursor").asText());
      assertEquals("bad_request", other.path("error").asText(),
          "docs/protocol.md: a cursor given with another directory than its own is answered bad_request; got ok="
              + other.get("ok") + " with " + other.path("entries").size() + " entries of " + m2);
    }
  }
}
