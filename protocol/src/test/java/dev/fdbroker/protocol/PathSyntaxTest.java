package dev.fdbroker.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class PathSyntaxTest {

  @ParameterizedTest
  @ValueSource(strings = {
      "/", "/a", "/srv/assets/x.png", "/a/.hidden", "/a/..b", "/a/b..", "/a/...", "/ä/ö",
      "/emoji/\uD83D\uDE00", "/with space/and\ttab", "/a\\b"
  })
  void acceptsCanonicalAbsolutePaths(String path) {
    assertNull(PathSyntax.problem(path));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "relative/path | path must be absolute",
      "./a           | path must be absolute",
      "/a/../b       | path has a '..' component",
      "/..           | path has a '..' component",
      "/a/..         | path has a '..' component",
      "/a/./b        | path has a '.' component",
      "/.            | path has a '.' component",
      "//a           | path has an empty component ('//' or a trailing '/')",
      "/a//b         | path has an empty component ('//' or a trailing '/')",
      "/a/           | path has an empty component ('//' or a trailing '/')",
  })
  void refusesNonCanonicalPaths(String path, String problem) {
    assertEquals(problem, PathSyntax.problem(path));
  }

  @org.junit.jupiter.api.Test
  void refusesEmptyNulSurrogatesAndOverlongPaths() {
    assertEquals("path is empty", PathSyntax.problem(""));
    assertEquals("path contains a NUL byte", PathSyntax.problem("/a\u0000b"));
    assertEquals("path is not valid Unicode (unpaired surrogate)", PathSyntax.problem("/a\uD800"));
    assertEquals("path is not valid Unicode (unpaired surrogate)", PathSyntax.problem("/a\uDC00b"));
    assertEquals("path is not valid Unicode (unpaired surrogate)", PathSyntax.problem("/\uD800/b"));
    // 4096 bytes exactly is the limit; one more byte (or one 2-byte character) is over it.
    String max = "/" + "a".repeat(4095);
    assertNull(PathSyntax.problem(max));
    assertEquals("path is longer than 4096 bytes", PathSyntax.problem(max + "a"));
    assertEquals("path is longer than 4096 bytes", PathSyntax.problem("/" + "a".repeat(4094) + "é"));
  }
}
