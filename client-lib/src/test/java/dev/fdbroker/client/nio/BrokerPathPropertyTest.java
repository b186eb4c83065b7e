package dev.fdbroker.client.nio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fdbroker.client.FdBrokerClient;
import dev.fdbroker.protocol.PathSyntax;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * The broker file system's paths against java.nio's own UnixPath ({@code Path.of} on Linux), for
 * random strings of a few characters that make every shape: absolute and relative, empty, with
 * {@code //}, trailing slashes, {@code .}, {@code ..} and names that merely start with dots.
 */
class BrokerPathPropertyTest {
  private static final FileSystem FS =
      BrokerFileSystemProvider.forClient(FdBrokerClient.builder(Path.of("/run/test/none.sock")).build());

  @Provide
  Arbitrary<String> paths() {
    return Arbitraries.strings().withChars('a', 'b', '.', '/').ofMaxLength(14);
  }

  private static Path ours(String s) {
    return FS.getPath(s);
  }

  private static Path theirs(String s) {
    return Path.of(s);
  }

  private static String text(Path p) {
    return p == null ? null : p.toString();
  }

  /** The outcome of a call: its result's text, or the type of what it threw. */
  private static String outcome(Callable<Object> call) {
    try {
      Object r = call.call();
      return r instanceof Path ? "path:" + r : String.valueOf(r);
    } catch (Exception e) {
      return e.getClass().getSimpleName();
    }
  }

  private static List<String> names(Path p) {
    List<String> names = new ArrayList<>();
    p.iterator().forEachRemaining(n -> names.add(n.toString()));
    return names;
  }

  @Property(tries = 2000)
  void oneNameHasTheSameShape(@ForAll("paths") String s) {
    Path o = ours(s);
    Path t = theirs(s);
    assertEquals(t.toString(), o.toString(), "toString");
    assertEquals(t.isAbsolute(), o.isAbsolute(), "isAbsolute");
    assertEquals(t.getNameCount(), o.getNameCount(), "getNameCount");
    for (int i = 0; i < t.getNameCount(); i++) {
      assertEquals(t.getName(i).toString(), o.getName(i).toString(), "getName");
    }
    assertEquals(names(t), names(o), "iterator");
    assertEquals(text(t.getFileName()), text(o.getFileName()), "getFileName");
    assertEquals(text(t.getParent()), text(o.getParent()), "getParent");
    assertEquals(text(t.getRoot()), text(o.getRoot()), "getRoot");
    assertEquals(t.normalize().toString(), o.normalize().toString(), "normalize");
    assertEquals(Path.of("/").resolve(t).toString(), o.toAbsolutePath().toString(), "toAbsolutePath, against /");
    assertEquals(outcome(() -> t.getName(-1)), outcome(() -> o.getName(-1)));
    assertEquals(outcome(() -> t.getName(t.getNameCount())), outcome(() -> o.getName(o.getNameCount())));
    int count = t.getNameCount();
    List<int[]> ranges = new ArrayList<>(List.of(new int[] {-1, 1}, new int[] {0, 0}, new int[] {count, count + 1},
        new int[] {0, count + 1}, new int[] {1, 0}));
    for (int b = 0; b < count; b++) {
      for (int e = b + 1; e <= count; e++) {
        ranges.add(new int[] {b, e});
      }
    }
    for (int[] r : ranges) {
      assertEquals(outcome(() -> t.subpath(r[0], r[1])), outcome(() -> o.subpath(r[0], r[1])),
          "subpath(" + r[0] + ", " + r[1] + ")");
    }
    assertEquals(o, ours(s), "equals");
    assertEquals(o.hashCode(), ours(s).hashCode(), "hashCode");
    assertEquals(o, ours(o.toString()), "parsing its own text gives it back");
  }

  @Property(tries = 3000)
  void twoNamesRelateTheSameWay(@ForAll("paths") String a, @ForAll("paths") String b) {
    Path oa = ours(a);
    Path ob = ours(b);
    Path ta = theirs(a);
    Path tb = theirs(b);
    assertEquals(outcome(() -> ta.resolve(tb)), outcome(() -> oa.resolve(ob)), "resolve");
    assertEquals(outcome(() -> ta.resolve(b)), outcome(() -> oa.resolve(b)), "resolve(String)");
    assertEquals(outcome(() -> ta.resolveSibling(tb)), outcome(() -> oa.resolveSibling(ob)), "resolveSibling");
    assertEquals(outcome(() -> ta.relativize(tb)), outcome(() -> oa.relativize(ob)), "relativize");
    assertEquals(ta.startsWith(tb), oa.startsWith(ob), "startsWith");
    assertEquals(ta.endsWith(tb), oa.endsWith(ob), "endsWith");
    assertEquals(ta.startsWith(b), oa.startsWith(b), "startsWith(String)");
    assertEquals(ta.endsWith(b), oa.endsWith(b), "endsWith(String)");
    assertEquals(Integer.signum(ta.compareTo(tb)), Integer.signum(oa.compareTo(ob)), "compareTo");
    assertEquals(ta.equals(tb), oa.equals(ob), "equals");
    if (oa.equals(ob)) {
      assertEquals(oa.hashCode(), ob.hashCode());
    }
  }

  /** What the broker is asked about is canonical: absolute, no '.', '..' or empty names. */
  @Property(tries = 2000)
  void theBrokerIsAskedOnlyCanonicalPaths(@ForAll("paths") String s) {
    String sent = ((BrokerPath) ours(s)).brokerPath();
    assertNull(PathSyntax.problem(sent), sent);
    assertEquals(Path.of("/").resolve(s).normalize().toString(), sent);
  }

  @Provide
  Arbitrary<String> awkwardNames() {
    return Arbitraries.strings().withChars('a', '/', '!', '%', ' ', '#', '?', ':', '@', '[', 'é', '\u4e2d', '+', ';', '=')
        .withCharRange('\ud83d', '\ud83d').ofMaxLength(12)
        .filter(s -> !s.contains("\ud83d")) // surrogates come in pairs below
        .map(s -> s.replace("+", "\ud83d\ude00"));
  }

  /** A path's URI names its socket and its absolute path, whatever characters either holds. */
  @Property(tries = 1000)
  void aUriGivesBackTheSocketAndThePath(@ForAll("awkwardNames") String name, @ForAll("awkwardNames") String socketName) {
    Path socket = Path.of("/run/" + socketName.replace("/", "_") + "x.sock");
    String path = ((BrokerPath) ours("/" + name)).toString();
    URI uri = BrokerUris.of(socket, path);
    assertEquals("fdbroker", uri.getScheme());
    assertEquals(socket, BrokerUris.socket(uri), uri.toString());
    assertEquals(path, BrokerUris.path(uri), uri.toString());
    assertEquals(socket, BrokerUris.socket(URI.create(uri.toASCIIString())), "as ASCII too");
    assertEquals(path, BrokerUris.path(URI.create(uri.toASCIIString())));
  }

  @Example
  void aNulOrHalfASurrogatePairIsNoPath() {
    assertThrows(InvalidPathException.class, () -> FS.getPath("/srv/a\0b"));
    assertThrows(InvalidPathException.class, () -> FS.getPath("/srv/\ud83d"));
    assertThrows(InvalidPathException.class, () -> FS.getPath("/srv/\ude00x"));
    assertEquals("/srv/\ud83d\ude00", FS.getPath("/srv//\ud83d\ude00/").toString());
  }

  @Example
  void getPathJoinsItsPartsAsTheDefaultFileSystemDoes() {
    assertEquals("/srv/a/x.png", FS.getPath("/srv", "a", "x.png").toString());
    assertEquals("srv/x", FS.getPath("", "srv", "", "x").toString());
    assertEquals("/", FS.getPath("/", "").toString());
    assertEquals(Path.of("", "", "a").toString(), FS.getPath("", "", "a").toString());
  }

  @Example
  void aPathOfAnotherFileSystemIsAMismatch() {
    Path ours = FS.getPath("/srv");
    assertThrows(java.nio.file.ProviderMismatchException.class, () -> ours.resolve(Path.of("a")));
    assertThrows(java.nio.file.ProviderMismatchException.class, () -> ours.relativize(Path.of("/a")));
    assertTrue(!ours.startsWith(Path.of("/srv")) && !ours.endsWith(Path.of("srv")));
    assertTrue(!ours.equals(Path.of("/srv")));
  }

  @Example
  void pathsOfTwoFileSystemsAreNotEqual() {
    FileSystem other = BrokerFileSystemProvider.forClient(FdBrokerClient.builder(Path.of("/run/test/none.sock")).build());
    assertTrue(!FS.getPath("/a").equals(other.getPath("/a")));
    assertEquals(0, FS.getPath("/a").compareTo(other.getPath("/a")));
  }
}
