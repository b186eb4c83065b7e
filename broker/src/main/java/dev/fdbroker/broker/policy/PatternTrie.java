package dev.fdbroker.broker.policy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * All patterns of a policy in one trie of path components, so that matching a path costs in
 * proportion to its depth (and the few globs along the way), not to the number of rules.
 *
 * <p>Matching runs the trie as an automaton over the path's components: the set of live nodes
 * advances by literal edges (one hash lookup), glob edges, and {@code **} nodes that loop on any
 * component. Immutable once built, so one trie serves all connections at once.
 */
final class PatternTrie {

  private static final class Node {
    final Map<String, Node> literals = new HashMap<>(4);
    final List<PathPattern.Glob> globs = new ArrayList<>(0);
    final List<Node> globTargets = new ArrayList<>(0);
    /** The node behind a {@code **} edge; it matches zero or more components. */
    Node anyDepth;
    final boolean loops;
    int[] terminals = new int[0];

    Node(boolean loops) {
      this.loops = loops;
    }
  }

  /** Receives each pattern id that matches. */
  @FunctionalInterface
  interface MatchSink {
    void matched(int patternId);
  }

  private final Node root = new Node(false);

  /** Adds a pattern under an id the caller chooses. Only during construction. */
  void add(PathPattern pattern, int id) {
    Node n = root;
    for (PathPattern.Segment seg : pattern.segments()) {
      n = switch (seg) {
        case PathPattern.Literal l -> n.literals.computeIfAbsent(l.text(), k -> new Node(false));
        case PathPattern.Glob g -> globChild(n, g);
        case PathPattern.AnyDepth a -> n.anyDepth != null ? n.anyDepth : (n.anyDepth = new Node(true));
      };
    }
    n.terminals = Arrays.copyOf(n.terminals, n.terminals.length + 1);
    n.terminals[n.terminals.length - 1] = id;
  }

  private static Node globChild(Node n, PathPattern.Glob g) {
    for (int i = 0; i < n.globs.size(); i++) {
      if (n.globs.get(i).text().equals(g.text())) {
        return n.globTargets.get(i);
      }
    }
    Node child = new Node(false);
    n.globs.add(g);
    n.globTargets.add(child);
    return child;
  }

  /** Reports every pattern that matches the canonical absolute {@code path}, each once. */
  void match(String path, MatchSink sink) {
    List<Node> live = new ArrayList<>(4);
    addWithClosure(live, root);
    int start = 1;
    int length = path.length();
    while (start < length && !live.isEmpty()) {
      int slash = path.indexOf('/', start);
      int end = slash < 0 ? length : slash;
      String component = path.substring(start, end);
      List<Node> next = new ArrayList<>(4);
      for (Node n : live) {
        Node lit = n.literals.get(component);
        if (lit != null) {
          addWithClosure(next, lit);
        }
        for (int i = 0; i < n.globs.size(); i++) {
          if (n.globs.get(i).matches(component)) {
            addWithClosure(next, n.globTargets.get(i));
          }
        }
        if (n.loops) {
          addWithClosure(next, n);
        }
      }
      live = next;
      start = end + 1;
    }
    for (Node n : live) {
      for (int id : n.terminals) {
        sink.matched(id);
      }
    }
  }

  /** Adds a node and the {@code **} nodes reachable from it without consuming a component. */
  private static void addWithClosure(List<Node> set, Node n) {
    while (n != null) {
      if (containsIdentical(set, n)) {
        return;
      }
      set.add(n);
      n = n.anyDepth;
    }
  }

  private static boolean containsIdentical(List<Node> set, Node n) {
    for (Node m : set) {
      if (m == n) {
        return true;
      }
    }
    return false;
  }
}
