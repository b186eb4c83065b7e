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

  /** The detailed check as it was first written, two passes and all: the oracle for the one-pass check. */
  private static String oracle(String path) {
    if (path.isEmpty()) {
      return "path is empty";
    }
    if (path.charAt(0) != '/') {
      return "path must be absolute";
    }
    int componentStart = 1;
    int length = path.length();
    for (int i = 0; i < length; i++) {
      char c = path.charAt(i);
      if (c == 0) {
        return "path contains a NUL byte";
      }
      if (Character.isHighSurrogate(c)) {
        if (i + 1 >= length || !Character.isLowSurrogate(path.charAt(i + 1))) {
          return "path is not valid Unicode (unpaired surrogate)";
        }
        i++;
      } else if (Character.isLowSurrogate(c)) {
        return "path is not valid Unicode (unpaired surrogate)";
      }
      if (c == '/' && i > 0) {
        String problem = oracleComponent(path, componentStart, i);
        if (problem != null) {
          return problem;
        }
        componentStart = i + 1;
      }
    }
    if (length > 1) {
      String problem = oracleComponent(path, componentStart, length);
      if (problem != null) {
        return problem;
      }
    }
    if (path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > ProtocolLimits.MAX_PATH_BYTES) {
      return "path is longer than " + ProtocolLimits.MAX_PATH_BYTES + " bytes";
    }
    return null;
  }
  private static String oracleComponent(String path, int start, int end) {
    int n = end - start;
    if (n == 0) {
      return "path has an empty component ('//' or a trailing '/')";
    }
    if (path.charAt(start) == '.') {
      if (n == 1) {
        return "path has a '.' component";
      }
      if (n == 2 && path.charAt(start + 1) == '.') {
        return "path has a '..' component";
      }
    }
    return null;
  }

  /** The one-pass check agrees with the detailed one on every path, and counts UTF-8 bytes right. */
  @org.junit.jupiter.api.Test
  void canonicalLengthAgreesWithProblemAndCountsUtf8Bytes() {
    java.util.Random random = new java.util.Random(3);
    String[] pieces = {"/", "/", ".", "..", "a", "bc", "\u0000", "\uD800", "\uDC00", "\uD83D\uDE00", "\u00e9", "\u20ac",
        "\u07ff", "\u0800", "a".repeat(1000), "\u20ac".repeat(400)};
    int accepted = 0;
    for (int i = 0; i < 200_000; i++) {
      StringBuilder b = new StringBuilder(random.nextInt(20) == 0 ? "" : "/");
      int n = random.nextInt(8);
      for (int j = 0; j < n; j++) {
        b.append(pieces[random.nextInt(pieces.length)]);
      }
      String path = b.toString();
      int length = PathSyntax.canonicalLength(path);
      String problem = oracle(path);
      assertEquals(problem, PathSyntax.problem(path), path);
      assertEquals(problem == null, length >= 0, () -> "for " + path + ": " + problem);
      if (length >= 0) {
        accepted++;
        assertEquals(path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length, length, path);
      }
    }
    org.junit.jupiter.api.Assertions.assertTrue(accepted > 10_000, "enough canonical paths among them: " + accepted);
  }
}
