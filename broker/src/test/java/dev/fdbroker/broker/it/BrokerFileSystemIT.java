package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fdbroker.client.BrokerFileException;
import dev.fdbroker.client.DirectoryListing;
import dev.fdbroker.client.FdBrokerClient;
import dev.fdbroker.client.FileStat;
import dev.fdbroker.client.StatResult;
import dev.fdbroker.client.nio.BrokerFileAttributes;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.FileType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.ReadOnlyFileSystemException;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * client-lib's stat, list and java.nio file system against the real broker: a tree with a
 * directory of 3,200 files of which the policy denies a tenth, a link, a FIFO, a denied directory,
 * an archive and a file to map.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BrokerFileSystemIT {
  private static final int BIG = 3_200;

  private Path dir;
  private Path t;
  private Path audit;
  private Path policy;
  private byte[] data;
  private BrokerProcess broker;
  private FdBrokerClient client;
  private FileSystem fs;

  @BeforeAll
  void start() throws Exception {
    dir = ItSupport.worldReadableTempDir("fdbroker-nio-");
    t = Files.createDirectories(dir.resolve("t"));
    ItSupport.write(t.resolve("a/x.txt"), "x marks the spot\n", "rw-r-----");
    ItSupport.write(t.resolve("a/sub/deep/leaf.txt"), "leaf\n", "rw-r--r--");
    ItSupport.write(t.resolve("a/private/key"), "key\n", "rw-------");
    data = new byte[1 << 20];
    new Random(7).nextBytes(data);
    Files.write(t.resolve("a/data.bin"), data);
    Files.write(t.resolve("a/b.zip"), zip("inside/entry.txt", "hello from inside the zip"));
    Files.createSymbolicLink(t.resolve("a/link"), t.resolve("a/x.txt"));
    ItSupport.mkfifo(t.resolve("a/fifo"));
    Path big = Files.createDirectories(t.resolve("big"));
    for (int i = 0; i < BIG; i++) {
      Files.writeString(big.resolve(String.format("f%05d.txt", i)), Integer.toString(i));
    }
    Path logs = Files.createDirectories(dir.resolve("log"));
    audit = logs.resolve("audit.jsonl");
    policy = Files.writeString(dir.resolve("policy.yaml"), """
        audit: {output: %s}
        rules:
          - name: runner
            users: [%d]
            allow: ["T/**"]
            deny: ["T/a/private/**", "T/big/*7.txt"]
        """.replace("T/", t + "/").formatted(audit, ItSupport.myUid()));
    broker = BrokerProcess.start(policy, dir.resolve("broker.sock"), stateDirectory());
    client = FdBrokerClient.connect(broker.socket());
    fs = client.fileSystem();
  }

  @AfterAll
  void stop() throws Exception {
    if (client != null) {
      client.close();
    }
    if (broker != null) {
      broker.close();
    }
    if (dir != null) {
      ItSupport.deleteTree(dir);
    }
  }

  private static byte[] zip(String entry, String content) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ZipOutputStream z = new ZipOutputStream(out)) {
      z.putNextEntry(new ZipEntry(entry));
      z.write(content.getBytes(StandardCharsets.UTF_8));
      z.closeEntry();
    }
    return out.toByteArray();
  }

  private Path p(String relative) {
    return fs.getPath(t.toString(), relative);
  }

  @Test
  void statSaysWhatTheKernelSays() throws Exception {
    assertTrue(client.ping().serves("stat"));
    FileStat x = client.stat(t + "/a/x.txt");
    assertEquals(FileType.FILE, x.type());
    assertEquals(17, x.size());
    assertEquals(0640, x.mode());
    assertEquals(Files.getLastModifiedTime(t.resolve("a/x.txt")), x.lastModified());
    assertTrue(client.stat(t + "/a").isDirectory());
    assertEquals(FileType.SYMLINK, client.stat(t + "/a/link").type(), "described, never followed");
    assertEquals(FileType.OTHER, client.stat(t + "/a/fifo").type());
    List<StatResult> some = client.statAll(t + "/a/x.txt", t + "/a/private/key", t + "/a/missing", t + "/a/link/x");
    assertEquals(17, some.get(0).stat().size());
    assertThrows(AccessDeniedException.class, some.get(1)::stat);
    assertThrows(NoSuchFileException.class, some.get(2)::stat);
    assertEquals(ErrorCode.SYMLINK, ((StatResult.Refused) some.get(3)).code());
  }

  /** 3,200 entries come in several pages; the 320 the policy denies never appear. */
  @Test
  void aBigDirectoryListsInPagesWithoutItsDeniedEntries() throws Exception {
    DirectoryListing listing = client.list(t + "/big");
    Set<String> names = new HashSet<>();
    while (listing.hasNext()) {
      FileStat e = listing.next();
      assertTrue(names.add(e.name()), "listed twice: " + e.name());
      assertEquals(Integer.toString(Integer.parseInt(e.name().substring(1, 6))).length(), e.size(), e.name());
    }
    assertEquals(BIG - BIG / 10, names.size());
    assertFalse(names.stream().anyMatch(n -> n.endsWith("7.txt")), "a denied entry appeared");
    assertTrue(listing.pagesFetched() >= 3, "pages: " + listing.pagesFetched());
    try (Stream<Path> entries = Files.list(p("big"))) {
      assertEquals(BIG - BIG / 10, entries.count());
    }
  }

  /** The state directory systemd gives the unit (StateDirectory=), where the cursors' key is kept. */
  private java.util.Map<String, String> stateDirectory() throws IOException {
    Path state = dir.resolve("state");
    if (!Files.isDirectory(state)) {
      Files.createDirectories(state);
      Files.setPosixFilePermissions(state, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    }
    return java.util.Map.of("STATE_DIRECTORY", state.toString());
  }

  /**
   * Nothing is held between pages, by the client or the broker: a listing goes on across a restart
   * of the broker (a second without anyone listening, which the client rides out), from its cursor,
   * sealed under the key the broker keeps in its state directory.
   */
  @Test
  void aListingGoesOnAcrossABrokerRestart() throws Exception {
    assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
        Files.getPosixFilePermissions(dir.resolve("state/cursor.key"))));
    DirectoryListing listing = client.list(t + "/big");
    Set<String> names = new HashSet<>();
    names.add(listing.next().name());
    broker.close();
    Thread.sleep(500);
    broker = BrokerProcess.start(policy, dir.resolve("broker.sock"), stateDirectory());
    listing.forEachRemaining(e -> assertTrue(names.add(e.name()), "listed twice: " + e.name()));
    assertEquals(BIG - BIG / 10, names.size());
  }

  @Test
  void listRefusalsAreTheirExceptionsAndLeaveTheClientWorking() throws Exception {
    assertThrows(AccessDeniedException.class, () -> client.list(t + "/a/private"));
    assertThrows(NotDirectoryException.class, () -> client.list(t + "/a/x.txt"));
    assertThrows(NoSuchFileException.class, () -> client.list(t + "/nowhere"));
    assertEquals(ErrorCode.SYMLINK, assertThrows(BrokerFileException.class, () -> client.list(t + "/a/link")).code());
    assertTrue(client.list(t + "/a").hasNext());
  }

  @Test
  void ordinaryJavaNioCodeReadsTheTree() throws Exception {
    Map<String, String> seen = new TreeMap<>();
    try (Stream<Path> walk = Files.walk(p("a"))) {
      for (Path file : (Iterable<Path>) walk::iterator) {
        if (Files.isRegularFile(file)) {
          seen.put(p("a").relativize(file).toString(), Integer.toString(Files.readAllBytes(file).length));
        }
      }
    }
    assertEquals(Map.of("x.txt", "17", "sub/deep/leaf.txt", "5", "data.bin", Integer.toString(data.length),
        "b.zip", Long.toString(Files.size(t.resolve("a/b.zip")))), seen);
    assertEquals("x marks the spot\n", Files.readString(p("a/x.txt")));
    assertEquals(Files.getLastModifiedTime(t.resolve("a/x.txt")), Files.getLastModifiedTime(p("a/x.txt")));
    BrokerFileAttributes attrs = Files.readAttributes(p("a/x.txt"), BrokerFileAttributes.class);
    assertEquals(0640, attrs.mode());
    assertTrue(Files.isSymbolicLink(p("a/link")));
    assertFalse(Files.isRegularFile(p("a/link")), "a link is never followed");
    assertTrue(Files.readAttributes(p("a/fifo"), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther());
    try (Stream<Path> found = Files.find(p("a"), 5, (f, a) -> a.isRegularFile() && f.toString().endsWith(".txt"))) {
      assertEquals(List.of("leaf.txt", "x.txt"),
          found.map(f -> f.getFileName().toString()).sorted().collect(Collectors.toList()));
    }
    try (var entries = Files.newDirectoryStream(p("a"), "*.{bin,zip}")) {
      List<String> names = new ArrayList<>();
      entries.forEach(e -> names.add(e.getFileName().toString()));
      assertEquals(new TreeSet<>(List.of("b.zip", "data.bin")), new TreeSet<>(names));
    }
  }

  @Test
  void aBrokeredFileMapsThroughItsByteChannel() throws Exception {
    try (SeekableByteChannel ch = Files.newByteChannel(p("a/data.bin"))) {
      FileChannel fc = assertInstanceOf(FileChannel.class, ch);
      MappedByteBuffer map = fc.map(FileChannel.MapMode.READ_ONLY, 0, fc.size());
      byte[] mapped = new byte[map.remaining()];
      map.get(mapped);
      assertArrayEquals(data, mapped);
    }
  }

  @Test
  void theZipFileSystemReadsAnEntryOfABrokeredArchive() throws Exception {
    try (FileSystem zip = FileSystems.newFileSystem(p("a/b.zip"))) {
      assertEquals("hello from inside the zip", Files.readString(zip.getPath("/inside/entry.txt")));
    }
  }

  @Test
  void refusalsAndWrites() throws Exception {
    AccessDeniedException denied = assertThrows(AccessDeniedException.class, () -> Files.readAllBytes(p("a/private/key")));
    assertEquals(t + "/a/private/key", denied.getFile());
    assertThrows(AccessDeniedException.class, () -> Files.list(p("a/private")));
    assertThrows(NoSuchFileException.class, () -> Files.size(p("a/missing")));
    assertEquals(ErrorCode.SYMLINK, assertThrows(BrokerFileException.class, () -> Files.readString(p("a/link"))).code());
    assertThrows(ReadOnlyFileSystemException.class, () -> Files.writeString(p("a/x.txt"), "overwritten"));
    assertThrows(ReadOnlyFileSystemException.class,
        () -> Files.newByteChannel(p("a/x.txt"), StandardOpenOption.APPEND));
    assertThrows(ReadOnlyFileSystemException.class, () -> Files.delete(p("a/x.txt")));
    assertEquals("x marks the spot\n", Files.readString(t.resolve("a/x.txt")));
  }

  @Test
  void aFileSystemOpenedByItsUri() throws Exception {
    URI uri = URI.create("fdbroker:" + broker.socket());
    try (FileSystem byUri = FileSystems.newFileSystem(uri, Map.of("requestTimeout", Duration.ofSeconds(10)))) {
      Path x = byUri.getPath(t + "/a/x.txt");
      assertEquals(x, Path.of(x.toUri()));
      assertEquals("x marks the spot\n", Files.readString(Path.of(x.toUri())));
    }
  }

  /**
   * Walking 2,880 files costs a list request per page (and one stat, of the start), not a stat per
   * file: the audit log, which has a line per request, says so.
   */
  @Test
  void walkingABigTreeAsksAListPerPageNotAStatPerFile() throws Exception {
    String start = t + "/a/start-" + System.nanoTime();
    String marker = t + "/a/marker-" + System.nanoTime();
    assertThrows(NoSuchFileException.class, () -> client.stat(start));
    long files;
    try (Stream<Path> walk = Files.walk(p("big"))) {
      files = walk.filter(Files::isRegularFile).count();
    }
    assertEquals(BIG - BIG / 10, files);
    assertThrows(NoSuchFileException.class, () -> client.stat(marker));
    List<JsonNode> lines = auditUntil(marker);
    // Only this test's requests: those between its two markers (others may have run before).
    int from = 0;
    while (!lines.get(from).get("path").asText().equals(start)) {
      from++;
    }
    lines = lines.subList(from, lines.size());
    long stats = lines.stream().filter(l -> l.get("op").asText().equals("stat")
        && l.get("path").asText().startsWith(t + "/big")).count();
    long lists = lines.stream().filter(l -> l.get("op").asText().equals("list")
        && l.get("path").asText().equals(t + "/big")).count();
    System.out.printf("walkingABigTree: %d files walked with %d stat and %d list requests%n", files, stats, lists);
    assertTrue(stats <= 2, stats + " stat requests");
    assertTrue(lists >= 3 && lists <= 20, lists + " list requests");
  }

  /** The audit lines written so far, once the line for {@code marker} is among them. */
  private List<JsonNode> auditUntil(String marker) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      List<JsonNode> lines = new ArrayList<>();
      if (Files.exists(audit)) {
        for (String line : Files.readAllLines(audit)) {
          lines.add(Fixture.JSON.readTree(line));
        }
      }
      if (lines.stream().anyMatch(l -> l.get("path").asText().equals(marker))) {
        return lines;
      }
      assertTrue(System.nanoTime() < deadline, "the marker never reached the audit log");
      Thread.sleep(50);
    }
  }
}
