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

  /**
   * With variables, the trie must agree with the reference matcher for every caller, and both with
   * the pattern the caller's values spell written out, where that pattern exists (a value that is
   * missing, or holds a '*', has none: such a pattern matches nothing, or its star is literal).
   */
  @Test
  void variablesMatchAsTheCallersValuesWrittenOut() {
    Random random = new Random(20261203);
    String[] pieces = {"a", "${user}", "a${uid}", "${user}b", "${instance}", "${user}-${instance}", "*", "**", "x"};
    String[] words = {"a", "b", "ab", "1", "a1", "abb", "x", "ab-t", "a*b", "a*b-t", "t", "a-t"};
    String[] users = {"a", "ab", null, "..", "a*b", ""};
    String[] units = {"w@t.service", "w.service", null, "w@..service", "w@.service"};
    int checks = 0;
    for (int round = 0; round < 300; round++) {
      List<PathPattern> patterns = new ArrayList<>();
      PatternTrie trie = new PatternTrie();
      int n = 1 + random.nextInt(6);
      for (int i = 0; i < n; i++) {
        StringBuilder p = new StringBuilder();
        int depth = 1 + random.nextInt(4);
        for (int d = 0; d < depth; d++) {
          p.append('/').append(pieces[random.nextInt(pieces.length)]);
        }
        PathPattern compiled = PathPattern.compile(p.toString());
        patterns.add(compiled);
        trie.add(compiled, i);
      }
      Caller caller = new Caller(1, 2, 3, new long[0], users[random.nextInt(users.length)],
          units[random.nextInt(units.length)]);
      for (int q = 0; q < 50; q++) {
        StringBuilder path = new StringBuilder();
        int depth = 1 + random.nextInt(5);
        for (int d = 0; d < depth; d++) {
          path.append('/').append(words[random.nextInt(words.length)]);
        }
        String s = path.toString();
        TreeSet<Integer> expected = new TreeSet<>();
        for (int i = 0; i < patterns.size(); i++) {
          PathPattern p = patterns.get(i);
          boolean m = p.matches(s, caller);
          if (m) {
            expected.add(i);
          }
          String spelled = spelled(p.text(), caller);
          if (p.variables().stream().anyMatch(v -> caller.value(v) == null)) {
            assertEquals(false, m, p + " needs a value " + caller + " lacks, so matches nothing: " + s);
          } else if (spelled != null) {
            assertEquals(PathPattern.compile(spelled).matches(s), m, p + " as " + spelled + " vs " + s);
          } else if (m) {
            assertTrue(p.text().contains("${user}") && s.contains(caller.user()), "a value's star is literal: " + s);
          }
        }
        List<Integer> actual = new ArrayList<>();
        trie.match(s, caller, actual::add);
        assertEquals(expected.size(), actual.size(), "each pattern reported once: " + patterns + " " + s);
        assertEquals(expected, new TreeSet<>(actual), patterns + " " + caller + " vs " + s);
        List<Integer> anonymous = new ArrayList<>();
        trie.match(s, anonymous::add);
        for (int id : anonymous) {
          assertTrue(patterns.get(id).variables().isEmpty(), "without a caller no variable matches");
        }
        checks++;
      }
    }
    assertEquals(15_000, checks);
  }

  /** The pattern with the caller's values written in, or null if one is missing or holds a star (literal). */
  private static String spelled(String pattern, Caller c) {
    String out = pattern;
    for (Variable v : Variable.values()) {
      if (out.contains(v.toString())) {
        String value = c.value(v);
        if (value == null || value.contains("*")) {
          return null;
        }
        out = out.replace(v.toString(), value);
      }
    }
    return out;
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
