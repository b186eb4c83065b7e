package dev.fdbroker.broker.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.fdbroker.protocol.PathSyntax;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * Fuzzes the policy's matcher: a {@link PatternTrie} holding a few patterns must report, for a
 * canonical path, exactly the ids of the patterns whose {@link PathPattern#matches} (the direct
 * backtracking reference) is true, each once. Patterns and path are built from components that are
 * mostly drawn from a small alphabet, so that shared prefixes, globs and {@code **} overlap often,
 * and partly free text from the fuzzer. Inputs that make an invalid pattern or a non-canonical path
 * are skipped, as the policy compiler and the broker refuse those before matching.
 *
 * <p>Runs as a real fuzzer in the build's "fuzz" surefire execution (JAZZER_FUZZ=1); elsewhere it
 * replays the inputs under src/test/resources.
 */
class PatternTrieFuzzTest {

  private static final String[] COMPONENTS = {
      "a", "b", "ab", "ba", "aa", "abc", ".a", "a.b", "*", "a*", "*a", "*b", "a*b", "*a*", "a*a", "**", "**",
      "*.*", "[a]", "?", "a\\b", "\u00e9", "\uD83D\uDE00", "*\uD83D\uDE00*"};

  private static final int MAX_ANY_DEPTH = 5;

  @FuzzTest(maxDuration = "20s")
  void trieReportsExactlyTheMatchingPatterns(FuzzedDataProvider data) {
    int count = data.consumeInt(1, 8);
    List<PathPattern> patterns = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      String text = data.consumeBoolean() ? "/" + data.consumeString(40) : build(data, 8);
      PathPattern pattern;
      try {
        pattern = PathPattern.compile(text);
      } catch (IllegalArgumentException invalid) {
        continue; // the policy compiler refuses it; nothing to match
      }
      // The reference backtracks, exponentially in the number of '**': keep the oracle fast.
      if (pattern.segments().stream().filter(s -> s instanceof PathPattern.AnyDepth).count() <= MAX_ANY_DEPTH) {
        patterns.add(pattern);
      }
    }
    String path = data.consumeBoolean() ? "/" + data.consumeString(60) : build(data, 12);
    if (patterns.isEmpty() || PathSyntax.problem(path) != null) {
      return;
    }

    PatternTrie trie = new PatternTrie();
    TreeSet<Integer> expected = new TreeSet<>();
    for (int id = 0; id < patterns.size(); id++) {
      trie.add(patterns.get(id), id);
      if (patterns.get(id).matches(path)) {
        expected.add(id);
      }
    }
    List<Integer> reported = new ArrayList<>();
    trie.match(path, reported::add);
    TreeSet<Integer> reportedSet = new TreeSet<>(reported);
    assertEquals(reportedSet.size(), reported.size(), "a pattern reported twice: " + reported);
    assertEquals(expected, reportedSet, () -> "patterns " + patterns + " on path " + path);
    // Matching is pure: asking again gives the same answer.
    List<Integer> again = new ArrayList<>();
    trie.match(path, again::add);
    assertTrue(again.equals(reported), "second match differs");
  }

  /** An absolute path of up to {@code maxDepth} components, mostly from the alphabet. */
  private static String build(FuzzedDataProvider data, int maxDepth) {
    int depth = data.consumeInt(0, maxDepth);
    if (depth == 0) {
      return "/";
    }
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < depth; i++) {
      b.append('/');
      b.append(data.consumeInt(0, 7) == 0 ? data.consumeString(6) : data.pickValue(COMPONENTS));
    }
    return b.toString();
  }
}
