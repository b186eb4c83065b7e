package dev.fdbroker.broker.policy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.function.IntPredicate;

/**
 * All patterns of a policy in one trie of path components, so that matching a path costs in
 * proportion to its depth (and the few globs along the way), not to the number of rules.
 *
 * <p>Matching runs the trie as an automaton over the path's components: the set of live nodes
 * advances by literal edges (one hash lookup), glob edges, and {@code **} nodes that loop on any
 * component. It reads the path in place, making no substring. Immutable once built, so one trie
 * serves all connections at once.
 *
 * <p>A component with variables (<code>/srv/tenants/${instance}/**</code>) is one edge, compared
 * with the caller's values as it is crossed: one rule serves any number of tenants at the cost of
 * one, where a rule per tenant would add a literal edge each.
 */
final class PatternTrie {

  private static final class Node {
    final Literals literals = new Literals();
    final List<PathPattern.Glob> globs = new ArrayList<>(0);
    final List<Node> globTargets = new ArrayList<>(0);
    final List<PathPattern.Template> templates = new ArrayList<>(0);
    final List<Node> templateTargets = new ArrayList<>(0);
    /** The node behind a {@code **} edge; it matches zero or more components. */
    Node anyDepth;
    final boolean loops;
    int[] terminals = new int[0];
    /**
     * The ids (those {@link #indexBeneath} kept, ascending) of the patterns that can match a path
     * strictly below one that reaches this node: the terminals of its subtree, and its own if it
     * loops.
     */
    int[] beneath = new int[0];

    Node(boolean loops) {
      this.loops = loops;
    }
  }

  /**
   * A node's literal edges: an open-addressing hash table that is looked up with a region of the
   * path (hashed like {@link String#hashCode}), so matching allocates nothing.
   */
  private static final class Literals {
    private String[] keys;
    private Node[] nodes;
    private int size;

    Node get(String path, int start, int end) {
      if (keys == null) {
        return null;
      }
      int h = 0;
      for (int i = start; i < end; i++) {
        h = 31 * h + path.charAt(i);
      }
      int mask = keys.length - 1;
      int length = end - start;
      for (int slot = spread(h) & mask; ; slot = (slot + 1) & mask) {
        String k = keys[slot];
        if (k == null) {
          return null;
        }
        if (k.length() == length && path.regionMatches(start, k, 0, length)) {
          return nodes[slot];
        }
      }
    }

    void forEachNode(java.util.function.Consumer<Node> action) {
      if (nodes != null) {
        for (Node n : nodes) {
          if (n != null) {
            action.accept(n);
          }
        }
      }
    }

    Node getOrAdd(String key) {
      if (keys == null) {
        keys = new String[4];
        nodes = new Node[4];
      }
      int mask = keys.length - 1;
      int slot = spread(key.hashCode()) & mask;
      for (; keys[slot] != null; slot = (slot + 1) & mask) {
        if (keys[slot].equals(key)) {
          return nodes[slot];
        }
      }
      Node n = new Node(false);
      keys[slot] = key;
      nodes[slot] = n;
      if (++size * 2 > keys.length) {
        grow();
      }
      return n;
    }

    private void grow() {
      String[] oldKeys = keys;
      Node[] oldNodes = nodes;
      keys = new String[oldKeys.length * 2];
      nodes = new Node[oldKeys.length * 2];
      int mask = keys.length - 1;
      for (int i = 0; i < oldKeys.length; i++) {
        if (oldKeys[i] != null) {
          int slot = spread(oldKeys[i].hashCode()) & mask;
          while (keys[slot] != null) {
            slot = (slot + 1) & mask;
          }
          keys[slot] = oldKeys[i];
          nodes[slot] = oldNodes[i];
        }
      }
    }

    private static int spread(int h) {
      return h ^ (h >>> 16);
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
        case PathPattern.Literal l -> n.literals.getOrAdd(l.text());
        case PathPattern.Glob g -> child(n.globs, n.globTargets, g, PathPattern.Glob::text);
        case PathPattern.AnyDepth a -> n.anyDepth != null ? n.anyDepth : (n.anyDepth = new Node(true));
        case PathPattern.Template t -> child(n.templates, n.templateTargets, t, PathPattern.Template::text);
      };
    }
    n.terminals = Arrays.copyOf(n.terminals, n.terminals.length + 1);
    n.terminals[n.terminals.length - 1] = id;
  }

  /**
   * The node behind the edge labelled {@code label} (a glob or a template, told apart by its text)
   * among {@code labels}, added if new.
   */
  private static <T extends PathPattern.Segment> Node child(List<T> labels, List<Node> targets, T label,
      java.util.function.Function<T, String> text) {
    for (int i = 0; i < labels.size(); i++) {
      if (text.apply(labels.get(i)).equals(text.apply(label))) {
        return targets.get(i);
      }
    }
    Node node = new Node(false);
    labels.add(label);
    targets.add(node);
    return node;
  }

  /**
   * The live nodes of one step of a match; at the end of a walk, the nodes the path reached
   * ({@link #reached}).
   */
  static final class NodeSet {
    private Node[] nodes = new Node[8];
    private int size;

    /** How many nodes the path reached. */
    int size() {
      return size;
    }

    /** The ids of the patterns that end at the {@code k}th node reached. */
    int[] terminals(int k) {
      return nodes[k].terminals;
    }

    /** The ids of the patterns that could match below the {@code k}th node reached, ascending. */
    int[] beneath(int k) {
      return nodes[k].beneath;
    }

    /**
     * Empties the set, forgetting its nodes: one kept per thread must not hold on to the trie of a
     * policy since replaced.
     */
    void clear() {
      Arrays.fill(nodes, 0, size, null);
      size = 0;
    }

    /** Adds a node and the {@code **} nodes reachable from it without consuming a component. */
    void addWithClosure(Node n) {
      while (n != null && !contains(n)) {
        if (size == nodes.length) {
          nodes = Arrays.copyOf(nodes, size * 2);
        }
        nodes[size++] = n;
        n = n.anyDepth;
      }
    }

    private boolean contains(Node n) {
      for (int i = 0; i < size; i++) {
        if (nodes[i] == n) {
          return true;
        }
      }
      return false;
    }
  }

  /**
   * Each thread's two node sets, the live one and the next, for its walks: a walk per decision
   * made two of them, 144 of the 216 bytes a decision allocated. Shared by every trie, so a walk's
   * result is good until the thread's next walk, of any trie.
   */
  private static final ThreadLocal<NodeSet[]> WALKS = ThreadLocal.withInitial(() -> new NodeSet[] {new NodeSet(), new NodeSet()});

  /**
   * Indexes, for every node, the patterns that could match below it ({@link NodeSet#beneath}),
   * keeping only the ids {@code keep} accepts. Once, after the last {@link #add}.
   */
  void indexBeneath(IntPredicate keep) {
    subtree(root, keep);
  }

  /** The kept ids at or below {@code n}, ascending; sets {@code n.beneath} on the way. */
  private static int[] subtree(Node n, IntPredicate keep) {
    TreeSet<Integer> below = new TreeSet<>();
    List<Node> children = new ArrayList<>(n.globTargets);
    children.addAll(n.templateTargets);
    n.literals.forEachNode(children::add);
    if (n.anyDepth != null) {
      children.add(n.anyDepth);
    }
    for (Node child : children) {
      for (int id : subtree(child, keep)) {
        below.add(id);
      }
    }
    List<Integer> own = new ArrayList<>();
    for (int id : n.terminals) {
      if (keep.test(id)) {
        own.add(id);
      }
    }
    if (n.loops) {
      below.addAll(own); // a ** node matches one component more, and more
    }
    n.beneath = below.stream().mapToInt(Integer::intValue).toArray();
    TreeSet<Integer> all = new TreeSet<>(below);
    all.addAll(own);
    return all.stream().mapToInt(Integer::intValue).toArray();
  }

  /** Reports every pattern without variables that matches the canonical absolute {@code path}, each once. */
  void match(String path, MatchSink sink) {
    match(path, null, sink);
  }

  /**
   * Reports every pattern that matches the canonical absolute {@code path} as {@code caller}'s
   * values spell it, each once; with no caller, patterns with variables match nothing.
   */
  void match(String path, Caller caller, MatchSink sink) {
    NodeSet live = reached(path, caller);
    for (int k = 0; k < live.size; k++) {
      for (int id : live.nodes[k].terminals) {
        sink.matched(id);
      }
    }
  }

  /**
   * The nodes the canonical absolute {@code path} reaches as {@code caller}'s values spell it (with
   * no caller, patterns with variables match nothing), read in place, a component at a time. The
   * set is this thread's, good until its next walk: whoever reads it must not match meanwhile.
   */
  NodeSet reached(String path, Caller caller) {
    NodeSet[] sets = WALKS.get();
    NodeSet live = sets[0];
    NodeSet next = sets[1];
    live.clear();
    next.clear();
    live.addWithClosure(root);
    int start = 1;
    int length = path.length();
    while (start < length && live.size > 0) {
      int slash = path.indexOf('/', start);
      int end = slash < 0 ? length : slash;
      next.clear();
      for (int k = 0; k < live.size; k++) {
        Node n = live.nodes[k];
        Node lit = n.literals.get(path, start, end);
        if (lit != null) {
          next.addWithClosure(lit);
        }
        for (int i = 0; i < n.globs.size(); i++) {
          if (n.globs.get(i).matches(path, start, end)) {
            next.addWithClosure(n.globTargets.get(i));
          }
        }
        for (int i = 0; i < n.templates.size(); i++) {
          if (n.templates.get(i).matches(path, start, end, caller)) {
            next.addWithClosure(n.templateTargets.get(i));
          }
        }
        if (n.loops) {
          next.addWithClosure(n);
        }
      }
      NodeSet swap = live;
      live = next;
      next = swap;
      start = end + 1;
    }
    return live;
  }
}
