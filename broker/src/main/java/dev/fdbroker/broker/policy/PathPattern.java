package dev.fdbroker.broker.policy;

import dev.fdbroker.protocol.ProtocolLimits;
import java.util.ArrayList;
import java.util.List;

/**
 * One allow or deny pattern: an absolute path in which {@code *} matches any run of characters
 * within one component and a {@code **} component matches any number of components (zero
 * included). Nothing else is special: {@code ?}, {@code [}, <code>{</code> and {@code \} are
 * literal. Patterns are matched against canonical paths only (see {@link
 * dev.fdbroker.protocol.PathSyntax}), so {@code /srv/assets/**} cannot be escaped with {@code ..}.
 */
public final class PathPattern {

  /** One component of a pattern. */
  sealed interface Segment permits Literal, Glob, AnyDepth {}

  record Literal(String text) implements Segment {}

  /** A component with at least one {@code *}; {@code parts} are the literal runs between them. */
  record Glob(String text, String[] parts) implements Segment {
    boolean matches(String component) {
      return ComponentGlob.matches(parts, component);
    }

    /** Whether {@code path} from {@code start} to {@code end}, one component, matches. */
    boolean matches(String path, int start, int end) {
      return ComponentGlob.matches(parts, path, start, end);
    }
  }

  record AnyDepth() implements Segment {}

  private final String text;
  private final List<Segment> segments;

  private PathPattern(String text, List<Segment> segments) {
    this.text = text;
    this.segments = segments;
  }

  /**
   * Compiles a pattern.
   *
   * @throws IllegalArgumentException with a message fit for a config error
   */
  public static PathPattern compile(String text) {
    if (text.isEmpty() || text.charAt(0) != '/') {
      throw new IllegalArgumentException("pattern must be an absolute path (start with '/')");
    }
    if (text.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("pattern contains a NUL byte");
    }
    if (text.length() > ProtocolLimits.MAX_PATH_BYTES) {
      throw new IllegalArgumentException("pattern is longer than " + ProtocolLimits.MAX_PATH_BYTES + " characters");
    }
    List<Segment> segments = new ArrayList<>();
    if (text.length() > 1) {
      for (String component : text.substring(1).split("/", -1)) {
        segments.add(segment(component));
      }
    }
    return new PathPattern(text, List.copyOf(segments));
  }

  private static Segment segment(String component) {
    if (component.isEmpty()) {
      throw new IllegalArgumentException("pattern has an empty component ('//' or a trailing '/')");
    }
    if (component.equals(".") || component.equals("..")) {
      throw new IllegalArgumentException("pattern has a '" + component + "' component; requested paths never do");
    }
    if (component.equals("**")) {
      return new AnyDepth();
    }
    if (component.contains("**")) {
      throw new IllegalArgumentException("'**' must be a whole path component (as in /a/**/b), not part of \""
          + component + "\"");
    }
    if (component.indexOf('*') < 0) {
      return new Literal(component);
    }
    return new Glob(component, component.split("\\*", -1));
  }

  public String text() {
    return text;
  }

  List<Segment> segments() {
    return segments;
  }

  /**
   * Whether the canonical {@code path} matches, by direct backtracking. The policy matches through
   * {@link PatternTrie}; this independent implementation is the reference it is tested against.
   */
  public boolean matches(String path) {
    String[] components = path.equals("/") ? new String[0] : path.substring(1).split("/", -1);
    return matchFrom(0, components, 0);
  }

  private boolean matchFrom(int s, String[] components, int c) {
    if (s == segments.size()) {
      return c == components.length;
    }
    Segment seg = segments.get(s);
    if (seg instanceof AnyDepth) {
      for (int skip = c; skip <= components.length; skip++) {
        if (matchFrom(s + 1, components, skip)) {
          return true;
        }
      }
      return false;
    }
    if (c == components.length) {
      return false;
    }
    boolean here = switch (seg) {
      case Literal l -> l.text().equals(components[c]);
      case Glob g -> g.matches(components[c]);
      case AnyDepth a -> throw new AssertionError();
    };
    return here && matchFrom(s + 1, components, c + 1);
  }

  @Override
  public String toString() {
    return text;
  }
}
