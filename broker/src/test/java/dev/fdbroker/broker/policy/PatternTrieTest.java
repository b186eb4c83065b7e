package dev.fdbroker.broker.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PatternTrieTest {

  @ParameterizedTest
  @CsvSource({
      "/tmp/**,        /tmp_good_but_bad/x, false",
      "/tmp/**,        /tmp/x,              true",
      "/tmp/**,        /tmp,                true",
      "/tmp/*,         /tmp,                false",
      "/tmp/*,         /tmp/a,              true",
      "/tmp/*,         /tmp/a/b,            false",
      "/a/**/b,        /a/b,                true",
      "/a/**/b,        /a/x/y/b,            true",
      "/a/**/b,        /a/x/y/c,            false",
      "/a/*.txt,       /a/.txt,             true",
      "/a/x*y*z,       /a/xyz,              true",
      "/a/x*y*z,       /a/xzyz,             true",
      "/a/x*y*z,       /a/xzy,              false",
      "/a/*a*a,        /a/aa,               true",
      "/a/*a*a,        /a/a,                false",
      "/a/*a*a,        /a/aaa,              true",
      "/a/[x],         /a/[x],              true",
      "/a/[x],         /a/x,                false",
      "/a/?,           /a/b,                false",
      "/**,            /,                   true",
      "/**,            /any/thing,          true",
      "/,              /,                   true",
      "/,              /a,                  false",
  })
  void globSemantics(String pattern, String path, boolean matches) {
    PathPattern p = PathPattern.compile(pattern);
    assertEquals(matches, p.matches(path));
    PatternTrie trie = new PatternTrie();
    trie.add(p, 0);
    List<Integer> hits = new ArrayList<>();
    trie.match(path, hits::add);
    assertEquals(matches, !hits.isEmpty());
  }

  @Test
  void refusesMalformedPatterns() {
    for (String bad : new String[] {"", "a", "/a//b", "/a/", "/a/../b", "/./a", "/a**", "/**a/b", "/a/***", "/a\0b"}) {
      assertThrows(IllegalArgumentException.class, () -> PathPattern.compile(bad), bad);
    }
  }

  /**
   * The trie must agree with the direct matcher on every pattern set and path: a seeded random
   * search over a small alphabet, where collisions between literals, globs and ** are frequent.
   */
  @Test
  void trieAgreesWithTheReferenceMatcher() {
    Random random = new Random(20261126);
    String[] pieces = {"a", "b", "ab", "*", "a*", "*b", "a*b", "**", "x"};
    String[] words = {"a", "b", "ab", "ba", "aab", "x", "abx", ""};
    int checks = 0;
    for (int round = 0; round < 300; round++) {
      List<PathPattern> patterns = new ArrayList<>();
      PatternTrie trie = new PatternTrie();
      int n = 1 + random.nextInt(8);
      for (int i = 0; i < n; i++) {
        StringBuilder p = new StringBuilder();
        int depth = random.nextInt(5);
        for (int d = 0; d < depth; d++) {
          p.append('/').append(pieces[random.nextInt(pieces.length)]);
        }
        PathPattern compiled = PathPattern.compile(p.length() == 0 ? "/" : p.toString());
        patterns.add(compiled);
        trie.add(compiled, i);
      }
      for (int q = 0; q < 50; q++) {
        StringBuilder path = new StringBuilder();
        int depth = random.nextInt(6);
        for (int d = 0; d < depth; d++) {
          String w = words[random.nextInt(words.length - 1)];
          path.append('/').append(w);
        }
        String s = path.length() == 0 ? "/" : path.toString();
        TreeSet<Integer> expected = new TreeSet<>();
        for (int i = 0; i < patterns.size(); i++) {
          if (patterns.get(i).matches(s)) {
            expected.add(i);
          }
        }
        List<Integer> actual = new ArrayList<>();
        trie.match(s, actual::add);
        assertEquals(expected.size(), actual.size(), "each pattern reported once: " + patterns + " " + s);
        assertEquals(expected, new TreeSet<>(actual), patterns + " vs " + s);
        checks++;
      }
    }
    assertEquals(15_000, checks);
  }

  @Test
  void sharedPrefixesShareNodes() {
    PatternTrie trie = new PatternTrie();
    trie.add(PathPattern.compile("/srv/a/*.png"), 0);
    trie.add(PathPattern.compile("/srv/a/*.png"), 1);
    trie.add(PathPattern.compile("/srv/**"), 2);
    List<Integer> hits = new ArrayList<>();
    trie.match("/srv/a/x.png", hits::add);
    assertEquals(List.of(0, 1, 2), hits.stream().sorted().toList());
    hits.clear();
    trie.match("/srv/a/x.jpg", hits::add);
    assertEquals(List.of(2), hits);
    assertFalse(hits.contains(0));
    assertTrue(PathPattern.compile("/srv/a/*.png").matches("/srv/a/.png"));
  }
}
