package dev.fdbroker.client.nio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fdbroker.client.FdBrokerClient;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.regex.PatternSyntaxException;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** {@link Glob} against the default file system's glob matcher, on random globs and paths. */
class GlobPropertyTest {
  private static final FileSystem FS =
      BrokerFileSystemProvider.forClient(FdBrokerClient.builder(Path.of("/run/test/none.sock")).build());

  @Provide
  Arbitrary<String> globs() {
    return Arbitraries.of("a", "b", ".", "/", "*", "**", "?", "[ab]", "[!a]", "[a-b]", "[-a]", "[!-]",
            "{a,b}", "{a*,.b}", "{}", "\\*", "\\{", "\\\\", ",", "}", "(", "+", "$", "^", "|", "[^a]", "[.]")
        .list().ofMaxSize(5).map(parts -> String.join("", parts));
  }

  @Provide
  Arbitrary<String> paths() {
    return Arbitraries.strings().withChars('a', 'b', '.', '/', '*', '{', '\\', ',', '-', '^').ofMaxLength(8);
  }

  @Property(tries = 5000)
  void matchesWhatTheDefaultFileSystemMatches(@ForAll("globs") String glob, @ForAll("paths") String path) {
    PathMatcher theirs = FileSystems.getDefault().getPathMatcher("glob:" + glob);
    PathMatcher ours = FS.getPathMatcher("glob:" + glob);
    assertEquals(theirs.matches(Path.of(path)), ours.matches(FS.getPath(path)), glob + " on " + path);
  }

  @Example
  void theCommonCases() {
    assertTrue(FS.getPathMatcher("glob:*.png").matches(FS.getPath("x.png")));
    assertFalse(FS.getPathMatcher("glob:*.png").matches(FS.getPath("/srv/x.png")), "* stays within a name");
    assertTrue(FS.getPathMatcher("glob:/srv/**.png").matches(FS.getPath("/srv/a/b/x.png")));
    assertTrue(FS.getPathMatcher("glob:*.{png,jpg}").matches(FS.getPath("x.jpg")));
    assertTrue(FS.getPathMatcher("regex:.*/x\\.png").matches(FS.getPath("/srv/x.png")));
    assertTrue(FS.getPathMatcher("GLOB:x").matches(FS.getPath("x")));
  }

  @Example
  void malformedGlobsAndSyntaxes() {
    assertThrows(PatternSyntaxException.class, () -> FS.getPathMatcher("glob:{a,{b}}"));
    assertThrows(PatternSyntaxException.class, () -> FS.getPathMatcher("glob:{a"));
    assertThrows(PatternSyntaxException.class, () -> FS.getPathMatcher("glob:[ab"));
    assertThrows(PatternSyntaxException.class, () -> FS.getPathMatcher("glob:[a/b]"));
    assertThrows(PatternSyntaxException.class, () -> FS.getPathMatcher("glob:a\\"));
    assertThrows(PatternSyntaxException.class, () -> FS.getPathMatcher("glob:[b-a]"));
    assertThrows(UnsupportedOperationException.class, () -> FS.getPathMatcher("wild:*"));
    assertThrows(IllegalArgumentException.class, () -> FS.getPathMatcher("*.png"));
  }
}
