package dev.fdbroker.broker.it;

import static dev.fdbroker.broker.it.ItSupport.NOBODY;
import static dev.fdbroker.broker.it.ItSupport.NOGROUP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A corpus of hostile paths (src/test/resources/hostile-paths.txt, whose header explains the
 * format), each with the answer it must get, sent by user nobody through the Python probe to a real
 * broker with each opener strategy. Paths that no JSON string can carry (invalid UTF-8) go in raw
 * frames from this JVM instead. Every descriptor that comes back is checked to be the very file its
 * path names (same device and inode as the path itself, symlinks not followed), and never the
 * outside secret.
 *
 * <p>Two tricks that live outside the path text are shown too: a hard link of a root-only file,
 * which the kernel refuses (fs.protected_hardlinks), and a bind mount, which is root's decision and
 * so is honoured.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HostilePathsIT {
  private static final String CORPUS = "/hostile-paths.txt";
  private static final Set<String> CODES = Set.of("ok", "denied", "not_found", "symlink", "not_regular", "bad_request");
  private static final String FRAME_BAD_REQUEST = "frame:bad_request";
  /** The probe sends each request as one frame: keep every request (and its reply) well under 64 KiB. */
  private static final int MAX_BATCH_JSON_CHARS = 24_000;

  final Map<String, Fixture> brokers = new LinkedHashMap<>();
  private final Map<String, Integer> baselines = new LinkedHashMap<>();

  @BeforeAll
  void startBrokers() throws Exception {
    assumeTrue(ItSupport.isRoot(), "needs root: the caller drops to nobody with setpriv");
    brokers.put("openat2", fixture("openat2"));
    brokers.put("walk", fixture("walk", "-Dfdbroker.opener=walk"));
    for (Map.Entry<String, Fixture> e : brokers.entrySet()) {
      Fixture f = e.getValue();
      assertTrue(f.broker.log().contains("opener " + e.getKey()), f.broker.log());
      addLinks(f);
      warmUp(f);
      baselines.put(e.getKey(), f.broker.quiescentDescriptors());
    }
  }

  /** The fixture the corpus is sent to with {@code opener}; {@code HostilePathsWithVariablesIT} writes its policy otherwise. */
  Fixture fixture(String opener, String... jvmOptions) throws Exception {
    return Fixture.start("", jvmOptions);
  }

  @AfterAll
  void stopBrokers() throws Exception {
    for (Fixture f : brokers.values()) {
      f.close();
    }
  }

  /** More symlinks than the fixture has, each a way out of (or around) the allowed tree if followed. */
  private static void addLinks(Fixture f) throws IOException {
    Path a = f.allowed;
    Files.createSymbolicLink(a.resolve("rel-link"), Path.of("../../outside/secret.txt"));
    Files.createSymbolicLink(a.resolve("inside-link"), Path.of("public.txt"));
    Files.createSymbolicLink(a.resolve("dangling"), Path.of("no-such-target"));
    Files.createSymbolicLink(a.resolve("loop"), Path.of("loop"));
    Files.createSymbolicLink(a.resolve("sub/up"), Path.of(".."));
    Files.createSymbolicLink(a.resolve("root-link"), Path.of("/"));
    Files.createSymbolicLink(a.resolve("priv-link"), Path.of("private"));
    Files.createSymbolicLink(a.resolve("sub/abs-outside"), f.outsideSecret.getParent());
  }

  /** The first requests make the broker's JVM open what it opens lazily; only then is a baseline fair. */
  private static void warmUp(Fixture f) throws Exception {
    String a = f.allowed.toString();
    List<String> paths = List.of(a + "/public.txt", a + "/link-to-outside", a + "/nothing", a + "/fifo",
        a + "//x", f.outsideSecret.toString(), "/proc/self/root");
    f.probe(NOBODY, NOGROUP, List.of(open(1, paths), Map.of("op", "ping")));
    try (RawClient c = new RawClient(f.socket)) {
      c.send(RawClient.frame(frame(0, a + "/public.txt", "/x\u00ff".getBytes(StandardCharsets.ISO_8859_1)))).reply();
      c.request("{\"op\":\"ping\"}");
    }
  }

  private static Map<String, Object> open(int id, List<String> paths) {
    return Map.of("id", id, "op", "open", "paths", paths);
  }

  // ---------------------------------------------------------------------------------------------
  // The corpus
  // ---------------------------------------------------------------------------------------------

  /** One line of the corpus, expanded for one fixture: a JSON-able path, or the raw bytes of a frame case. */
  record Case(int line, String source, String expected, String path, byte[] rawPath) {
    boolean isFrame() {
      return rawPath != null;
    }

    String describe() {
      return "line " + line + " [" + source + "]";
    }
  }

  static List<String> corpusLines() throws IOException {
    try (InputStream in = HostilePathsIT.class.getResourceAsStream(CORPUS)) {
      assertTrue(in != null, CORPUS + " is not on the test classpath");
      return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
    }
  }

  /** The corpus as {@code opener} must answer it, its placeholders filled in for {@code f}. */
  static List<Case> corpus(Fixture f, String opener) throws IOException {
    Map<String, String> vars = Map.of(
        "A", f.allowed.toString(),
        "O", f.outsideSecret.getParent().toString(),
        "R", f.root.toString(),
        "P", Long.toString(f.broker.pid()));
    List<Case> cases = new ArrayList<>();
    List<String> lines = corpusLines();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int tab = line.indexOf('\t');
      if (tab < 0) {
        throw new IllegalArgumentException(CORPUS + ":" + (i + 1) + ": no TAB between EXPECTED and PATH: " + line);
      }
      String expected = expectedFor(line.substring(0, tab), opener, CORPUS + ":" + (i + 1));
      String source = line.substring(tab + 1);
      boolean frame = expected.equals(FRAME_BAD_REQUEST);
      PathBuilder b = new PathBuilder(frame, vars, CORPUS + ":" + (i + 1));
      b.decode(source, true);
      cases.add(frame
          ? new Case(i + 1, source, "bad_request", null, b.bytes())
          : new Case(i + 1, source, expected, b.text(), null));
    }
    return cases;
  }

  /** EXPECTED is a code, frame:bad_request, or openat2=CODE,walk=CODE (a known difference between the openers). */
  private static String expectedFor(String field, String opener, String where) {
    String code = field;
    if (field.contains("=")) {
      Map<String, String> perOpener = new LinkedHashMap<>();
      for (String part : field.split(",")) {
        String[] kv = part.split("=", 2);
        if (kv.length != 2 || perOpener.put(kv[0], kv[1]) != null) {
          throw new IllegalArgumentException(where + ": malformed " + field);
        }
      }
      if (!perOpener.keySet().equals(Set.of("openat2", "walk"))) {
        throw new IllegalArgumentException(where + ": name both openers, openat2 and walk: " + field);
      }
      code = perOpener.get(opener);
    } else if (field.equals(FRAME_BAD_REQUEST)) {
      return field;
    }
    if (!CODES.contains(code)) {
      throw new IllegalArgumentException(where + ": unknown expected answer " + code);
    }
    return code;
  }

  /**
   * Decodes a PATH of the corpus: placeholders and escapes. A JSON case is built as a Java string
   * (which may hold half a surrogate pair); a frame case as the bytes to put between the quotes of
   * a JSON string, text JSON-escaped and UTF-8 encoded, each \xNN escape one raw byte.
   */
  private static final class PathBuilder {
    private final boolean frame;
    private final Map<String, String> vars;
    private final String where;
    private final StringBuilder text = new StringBuilder();
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

    PathBuilder(boolean frame, Map<String, String> vars, String where) {
      this.frame = frame;
      this.vars = vars;
      this.where = where;
    }

    String text() {
      return text.toString();
    }

    byte[] bytes() {
      flush();
      return bytes.toByteArray();
    }

    /** Text so far goes into the byte form, JSON-escaped. */
    private void flush() {
      if (!frame || text.isEmpty()) {
        return;
      }
      try {
        String quoted = Fixture.JSON.writeValueAsString(text.toString());
        bytes.writeBytes(quoted.substring(1, quoted.length() - 1).getBytes(StandardCharsets.UTF_8));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      text.setLength(0);
    }

    private int utf8Length() {
      return frame
          ? bytes.size() + text.toString().getBytes(StandardCharsets.UTF_8).length
          : text.toString().getBytes(StandardCharsets.UTF_8).length;
    }

    private IllegalArgumentException error(String why, String s) {
      return new IllegalArgumentException(where + ": " + why + " in " + s);
    }

    void decode(String s, boolean placeholders) {
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        if (c == '\\') {
          if (i + 1 >= s.length()) {
            throw error("a lone backslash at the end (write \\\\)", s);
          }
          char e = s.charAt(++i);
          switch (e) {
            case 't' -> text.append('\t');
            case 'n' -> text.append('\n');
            case '0' -> text.append('\0');
            case '\\' -> text.append('\\');
            case 'u' -> {
              text.append((char) Integer.parseInt(hex(s, i + 1, 4), 16));
              i += 4;
            }
            case 'x' -> {
              if (!frame) {
                throw error("a raw byte escape outside a " + FRAME_BAD_REQUEST + " case", s);
              }
              flush();
              bytes.write(Integer.parseInt(hex(s, i + 1, 2), 16));
              i += 2;
            }
            default -> throw error("unknown escape \\" + e, s);
          }
        } else if (c == '{' && placeholders) {
          int end = s.indexOf('}', i);
          if (end < 0) {
            throw error("an unclosed '{' (write a literal one as an escape)", s);
          }
          placeholder(s.substring(i + 1, end), s, end == s.length() - 1);
          i = end;
        } else {
          text.append(c);
        }
      }
    }

    private String hex(String s, int from, int n) {
      if (from + n > s.length() || !s.substring(from, from + n).matches("[0-9a-fA-F]+")) {
        throw error("a bad hex escape", s);
      }
      return s.substring(from, from + n);
    }

    private void placeholder(String name, String s, boolean atEnd) {
      if (vars.containsKey(name)) {
        text.append(vars.get(name));
      } else if (name.equals("EMPTY")) {
        // nothing
      } else if (name.matches("LEN=[0-9]+")) {
        if (!atEnd || !text.toString().endsWith("/")) {
          throw error("{LEN=N} must come last, after a '/'", s);
        }
        int remaining = Integer.parseInt(name.substring(4)) - utf8Length();
        if (remaining < 1) {
          throw error("the path is already longer than " + name, s);
        }
        // Components of at most 200 bytes, none empty.
        while (remaining > 200) {
          int k = remaining - 201 >= 1 ? 200 : 199;
          text.append("y".repeat(k)).append('/');
          remaining -= k + 1;
        }
        text.append("y".repeat(remaining));
        assertEquals(Integer.parseInt(name.substring(4)), utf8Length(), where);
      } else if (name.matches("[0-9]+\\*.+")) {
        int star = name.indexOf('*');
        int n = Integer.parseInt(name.substring(0, star));
        for (int k = 0; k < n; k++) {
          decode(name.substring(star + 1), false);
        }
      } else {
        throw error("unknown placeholder {" + name + "}", s);
      }
    }
  }

  /** {"id":ID,"op":"open","paths":["GOOD","BAD"]} with BAD's bytes as they are. */
  private static byte[] frame(int id, String goodPath, byte[] badPathBytes) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.writeBytes(("{\"id\":" + id + ",\"op\":\"open\",\"paths\":[" + Fixture.JSON.writeValueAsString(goodPath) + ",\"")
        .getBytes(StandardCharsets.UTF_8));
    b.writeBytes(badPathBytes);
    b.writeBytes("\"]}".getBytes(StandardCharsets.UTF_8));
    return b.toByteArray();
  }

  /** What the broker echoes: JSON text must be valid Unicode, so half a surrogate pair comes back as U+FFFD. */
  private static String echoed(String path) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < path.length(); i++) {
      char c = path.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < path.length() && Character.isLowSurrogate(path.charAt(i + 1))) {
        b.append(c).append(path.charAt(++i));
      } else {
        b.append(Character.isSurrogate(c) ? '\ufffd' : c);
      }
    }
    return b.toString();
  }

  @Test
  @Order(3)
  void everyHostilePathGetsTheAnswerItsLineExpects() throws Exception {
    long started = System.nanoTime();
    List<String> problems = new ArrayList<>();
    int cases = -1;
    for (Map.Entry<String, Fixture> e : brokers.entrySet()) {
      Fixture f = e.getValue();
      List<Case> corpus = corpus(f, e.getKey());
      cases = corpus.size();
      int jsonCases = checkJsonCases(e.getKey(), f, corpus.stream().filter(c -> !c.isFrame()).toList(), problems);
      checkFrameCases(e.getKey(), f, corpus.stream().filter(Case::isFrame).toList(), problems);
      assertTrue(jsonCases >= 200, "the corpus must hold at least 200 JSON-able paths, it has " + jsonCases);
    }
    assertTrue(problems.isEmpty(), problems.size() + " unexpected answers:\n" + String.join("\n", problems));
    for (Map.Entry<String, Fixture> e : brokers.entrySet()) {
      Fixture f = e.getValue();
      assertTrue(f.broker.isAlive(), e.getKey() + " broker died:\n" + f.broker.log());
      int baseline = baselines.get(e.getKey());
      int after = BrokerProcess.settlesTo(f.broker::openDescriptors, baseline);
      assertTrue(after <= baseline, e.getKey() + " broker descriptors: " + after + ", baseline " + baseline);
    }
    assertTrue(Duration.ofNanos(System.nanoTime() - started).toSeconds() < 20, "the corpus should take seconds: nothing (a FIFO, a device) may stall the broker");
    System.out.println("hostile paths: " + cases + " cases x " + brokers.size()
        + " openers, all answered as expected; broker descriptors back to baseline");
    HostileSummary.add("hostile path cases tried (x openers)", (long) cases * brokers.size());
    HostileSummary.add("descriptor leaks found (must be 0)", 0);
  }

  /** Sends the JSON-able cases as nobody, up to 64 paths per request, and checks each answer. */
  private static int checkJsonCases(String opener, Fixture f, List<Case> cases, List<String> problems) throws Exception {
    var writer = Fixture.JSON.writer().with(JsonWriteFeature.ESCAPE_NON_ASCII);
    List<List<Case>> batches = new ArrayList<>();
    List<Case> batch = new ArrayList<>();
    int chars = 0;
    for (Case c : cases) {
      int size = writer.writeValueAsString(c.path()).length() + 1;
      if (!batch.isEmpty() && (batch.size() == 64 || chars + size > MAX_BATCH_JSON_CHARS)) {
        batches.add(batch);
        batch = new ArrayList<>();
        chars = 0;
      }
      batch.add(c);
      chars += size;
    }
    batches.add(batch);
    List<Object> requests = new ArrayList<>();
    for (int i = 0; i < batches.size(); i++) {
      requests.add(open(i, batches.get(i).stream().map(Case::path).toList()));
    }
    requests.add(Map.of("id", "after", "op", "ping"));
    JsonNode report = f.probe(NOBODY, NOGROUP, requests);
    assertEquals(NOBODY, report.get("uid").asLong());

    Object outsideInode = Files.getAttribute(f.outsideSecret, "unix:ino");
    for (int i = 0; i < batches.size(); i++) {
      JsonNode reply = report.at("/replies/" + i + "/reply");
      JsonNode fds = report.at("/replies/" + i + "/fds");
      JsonNode files = reply.get("files");
      if (files == null || files.size() != batches.get(i).size()) {
        problems.add(opener + ": request " + i + " answered " + reply);
        continue;
      }
      int granted = 0;
      for (int k = 0; k < files.size(); k++) {
        Case c = batches.get(i).get(k);
        JsonNode file = files.get(k);
        String actual = file.get("ok").asBoolean() ? "ok" : file.get("error").asText();
        String what = opener + ": " + c.describe() + " ";
        if (!actual.equals(c.expected())) {
          problems.add(what + "expected " + c.expected() + ", got " + actual + " (" + file.path("message").asText() + ")");
        }
        if (!echoed(c.path()).equals(file.get("path").asText())) {
          problems.add(what + "echoed as " + file.get("path"));
        }
        if (!file.get("ok").asBoolean()) {
          continue;
        }
        // A descriptor: it must be the file the path itself names (no link followed), a regular
        // file, and never the outside secret.
        JsonNode fd = fds.get(file.get("fd").asInt());
        if (file.get("fd").asInt() != granted++ || fd == null) {
          problems.add(what + "descriptor index " + file.get("fd") + " of " + fds.size());
          continue;
        }
        Path p = Path.of(c.path());
        long ino = ((Number) Files.getAttribute(p, "unix:ino", LinkOption.NOFOLLOW_LINKS)).longValue();
        long dev = ((Number) Files.getAttribute(p, "unix:dev", LinkOption.NOFOLLOW_LINKS)).longValue();
        String content = new String(Base64.getDecoder().decode(fd.get("content_b64").asText()), StandardCharsets.UTF_8);
        if (fd.get("ino").asLong() != ino || fd.get("dev").asLong() != dev || !fd.get("regular").asBoolean()) {
          problems.add(what + "got a descriptor of another file: " + fd);
        }
        if (fd.get("ino").asLong() == ((Number) outsideInode).longValue() || content.equals(Fixture.OUTSIDE)) {
          problems.add(what + "GOT THE OUTSIDE SECRET");
        }
        if (!"EBADF".equals(fd.get("write_error").asText())) {
          problems.add(what + "descriptor is writable: " + fd.get("write_error"));
        }
      }
      if (fds.size() != granted) {
        problems.add(opener + ": request " + i + " carried " + fds.size() + " descriptors for " + granted + " granted files");
      }
    }
    JsonNode pong = report.at("/replies/" + batches.size() + "/reply");
    assertEquals("after", pong.path("id").asText(), opener + ": the broker answers a ping after the corpus: " + pong);
    return cases.size();
  }

  /**
   * Sends each invalid-UTF-8 case in a raw frame, next to a valid path: the whole request is
   * refused and nothing is granted, and the same connection is served after.
   */
  private static boolean contains(byte[] bytes, byte b) {
    for (byte x : bytes) {
      if (x == b) {
        return true;
      }
    }
    return false;
  }

  private static void checkFrameCases(String opener, Fixture f, List<Case> cases, List<String> problems) throws Exception {
    try (RawClient client = new RawClient(f.socket)) {
      for (Case c : cases) {
        String what = opener + ": " + c.describe() + " ";
        JsonNode reply = client.send(RawClient.frame(frame(c.line(), f.allowed + "/public.txt", c.rawPath()))).reply();
        // Refused for the reason the line is about: its bytes are not UTF-8, or (raw control bytes) not
        // JSON; a raw NUL is refused before parsing (it is how UTF-16 and UTF-32 texts would start).
        String reason = !isUtf8(c.rawPath()) ? "not valid UTF-8"
            : contains(c.rawPath(), (byte) 0) ? "contains a NUL byte" : "malformed JSON";
        if (reply.path("ok").asBoolean(true) || !"bad_request".equals(reply.path("error").asText()) || reply.has("files")
            || !reply.path("message").asText().contains(reason)) {
          problems.add(what + "expected the whole request refused as bad_request (" + reason + "), got " + reply);
        }
        if (client.lastDescriptors.length != 0) {
          problems.add(what + client.lastDescriptors.length + " descriptors came with the refusal");
          client.closeDescriptors();
        }
        JsonNode pong = client.request("{\"id\":\"after\",\"op\":\"ping\"}");
        if (!"after".equals(pong.path("id").asText())) {
          problems.add(what + "the connection is not served after: " + pong);
        }
      }
    }
  }

  private static boolean isUtf8(byte[] bytes) {
    try {
      StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes));
      return true;
    } catch (CharacterCodingException e) {
      return false;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Outside the path text
  // ---------------------------------------------------------------------------------------------

  /**
   * The hard-link trick. The policy judges path text, and a hard link is not a symlink: it is the
   * file itself under a second name, which no open flag can tell from the first. If a caller could
   * hard-link the root-only outside secret into a directory under the allowed tree that it can
   * write, the broker would open that allowed name and hand out the outside file. What stops it is
   * the kernel: with fs.protected_hardlinks=1 (the default on every modern distribution) only a
   * file's owner, or a user who may read and write it, may link it. docs/policy.md says so, and
   * says not to allow writable directories where that protection is off. Where it is off, this
   * test is skipped.
   */
  @Test
  @Order(1)
  void hardLinkingARootOnlyFileIntoTheAllowedTreeIsRefusedByTheKernel() throws Exception {
    String protectedHardlinks = Files.readString(Path.of("/proc/sys/fs/protected_hardlinks")).trim();
    assumeTrue(protectedHardlinks.equals("1"), "fs.protected_hardlinks is " + protectedHardlinks + ", not 1");
    Fixture f = brokers.get("openat2");
    Path drop = Files.createDirectories(f.allowed.resolve("drop"));
    ItSupport.run(List.of("chmod", "1777", drop.toString()), Duration.ofSeconds(10)).assertExit(0);
    Path mine = drop.resolve("mine.txt");
    Path stolen = drop.resolve("stolen-secret");
    String script = """
        import errno, os, sys
        def link(src, dst):
            try:
                os.link(src, dst)
                return "OK"
            except OSError as e:
                return errno.errorcode[e.errno]
        mine, secret, stolen = sys.argv[1:4]
        with open(mine, "w") as f:
            f.write("mine\\n")
        print(link(mine, mine + ".link"), link(secret, stolen))
        """;
    ItSupport.Result r = ItSupport.run(ItSupport.asUser(NOBODY, NOGROUP, List.of(ItSupport.python(), "-c", script,
        mine.toString(), f.outsideSecret.toString(), stolen.toString())), Duration.ofSeconds(30)).assertExit(0);
    // The directory is writable by nobody (its own file links fine), yet the secret cannot be linked.
    assertEquals("OK EPERM", r.stdout().trim());
    assertFalse(Files.exists(stolen, LinkOption.NOFOLLOW_LINKS));

    JsonNode report = f.probe(NOBODY, NOGROUP, List.of(open(1, List.of(stolen.toString(), mine + ".link"))));
    JsonNode files = report.at("/replies/0/reply/files");
    assertEquals("not_found", files.get(0).get("error").asText(), files.toString());
    assertTrue(files.get(1).get("ok").asBoolean(), files.toString());
  }

  /**
   * A bind mount is not a caller's trick: only root can make one, and what it puts under an allowed
   * name is root's decision. Neither opener refuses to cross a mount point (openat2 is not given
   * RESOLVE_NO_XDEV), so a path through the mount is granted: here, the outside secret, through a
   * bind mount of the outside directory inside the allowed tree. Skipped where mount --bind is not
   * permitted (an unprivileged container).
   */
  @ParameterizedTest
  @ValueSource(strings = {"openat2", "walk"})
  @Order(2)
  void aBindMountIntoTheAllowedTreeIsRootsDecisionAndIsHonoured(String opener) throws Exception {
    Fixture f = brokers.get(opener);
    Path mountPoint = Files.createDirectories(f.allowed.resolve("bound"));
    ItSupport.Result mount = ItSupport.run(List.of("mount", "--bind", f.outsideSecret.getParent().toString(),
        mountPoint.toString()), Duration.ofSeconds(10));
    assumeTrue(mount.exit() == 0, "mount --bind is not permitted here: " + mount.stderr());
    try {
      Path through = mountPoint.resolve("secret.txt");
      JsonNode report = f.probe(NOBODY, NOGROUP, List.of(open(1, List.of(through.toString()))));
      JsonNode file = report.at("/replies/0/reply/files/0");
      assertTrue(file.get("ok").asBoolean(), file.toString());
      JsonNode fd = report.at("/replies/0/fds/0");
      assertEquals(Files.getAttribute(f.outsideSecret, "unix:ino"), fd.get("ino").asLong());
      assertEquals(Fixture.OUTSIDE, new String(Base64.getDecoder().decode(fd.get("content_b64").asText()), StandardCharsets.UTF_8));
    } finally {
      ItSupport.run(List.of("umount", mountPoint.toString()), Duration.ofSeconds(10)).assertExit(0);
    }
  }
}
