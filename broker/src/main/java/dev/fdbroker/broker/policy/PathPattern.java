package dev.fdbroker.broker.policy;

import dev.fdbroker.protocol.ProtocolLimits;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * One allow or deny pattern: an absolute path in which {@code *} matches any run of characters
 * within one component, a {@code **} component matches any number of components (zero included),
 * and a variable such as <code>${user}</code> stands for the caller's own value ({@link Variable}).
 * Nothing else is special: {@code ?}, {@code [}, <code>{</code> and {@code \} are literal.
 * Patterns are matched against canonical paths only (see {@link
 * dev.fdbroker.protocol.PathSyntax}), so {@code /srv/assets/**} cannot be escaped with {@code ..}.
 */
public final class PathPattern {

  /** One component of a pattern. */
  sealed interface Segment permits Literal, Glob, AnyDepth, Template {}

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

  /**
   * A component with variables: {@code literals} are the runs around them, one more than {@code
   * vars}. It matches exactly the component the caller's values spell, and nothing when the caller
   * lacks one of them; a value is never a pattern (its {@code *} is a star).
   */
  record Template(String text, String[] literals, Variable[] vars, boolean unitDependent) implements Segment {
    Template(String text, String[] literals, Variable[] vars) {
      this(text, literals, vars, Arrays.stream(vars).anyMatch(Variable::isUnits));
    }

    /** Whether {@code path} from {@code start} to {@code end}, one component, is this caller's. */
    boolean matches(String path, int start, int end, Caller caller) {
      if (caller == null) {
        return false;
      }
      if (caller.unitUnknown() && unitDependent) {
        // Any value the unit might have: wide enough for a deny to bind; Policy.decide drops
        // the allows this matches, which would otherwise grant on a guess.
        return true;
      }
      int at = start;
      for (int i = 0; i < vars.length; i++) {
        String lit = literals[i];
        String value = caller.value(vars[i]);
        if (value == null
            || !path.startsWith(lit, at)
            || !path.startsWith(value, at + lit.length())) {
          return false;
        }
        at += lit.length() + value.length();
        if (at > end) {
          return false;
        }
      }
      String last = literals[vars.length];
      return at + last.length() == end && path.startsWith(last, at);
    }
  }

  private final String text;
  private final List<Segment> segments;
  private final Set<Variable> variables;
  /** Asked for every decision of a caller whose unit is unknown: kept, not derived each time. */
  private final boolean dependsOnUnit;

  private PathPattern(String text, List<Segment> segments) {
    this.text = text;
    this.segments = segments;
    EnumSet<Variable> vars = EnumSet.noneOf(Variable.class);
    for (Segment s : segments) {
      if (s instanceof Template t) {
        vars.addAll(Arrays.asList(t.vars()));
      }
    }
    this.variables = Collections.unmodifiableSet(vars);
    this.dependsOnUnit = vars.stream().anyMatch(Variable::isUnits);
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
    if (component.contains("${")) {
      return template(component);
    }
    if (component.indexOf('*') < 0) {
      return new Literal(component);
    }
    return new Glob(component, component.split("\\*", -1));
  }

  private static Template template(String component) {
    if (component.indexOf('*') >= 0) {
      throw new IllegalArgumentException("a component with a variable cannot also hold '*' (\"" + component + "\")");
    }
    List<String> literals = new ArrayList<>();
    List<Variable> vars = new ArrayList<>();
    int from = 0;
    int open;
    while ((open = component.indexOf("${", from)) >= 0) {
      int close = component.indexOf('}', open);
      if (close < 0) {
        throw new IllegalArgumentException("'${' is not closed with '}' in \"" + component + "\"");
      }
      String key = component.substring(open + 2, close);
      Variable v = Variable.named(key);
      if (v == null) {
        throw new IllegalArgumentException("unknown variable ${" + key + "} (there are ${uid}, ${user}, ${gid}, "
            + "${unit} and ${instance})");
      }
      literals.add(component.substring(from, open));
      vars.add(v);
      from = close + 1;
    }
    literals.add(component.substring(from));
    return new Template(component, literals.toArray(String[]::new), vars.toArray(Variable[]::new));
  }

  public String text() {
    return text;
  }

  /** Whether the caller has a value for every variable of this pattern (else it matches nothing for them). */
  public boolean fillableBy(Caller caller) {
    for (Variable v : variables) {
      // An unknown unit is any value for a deny, none for an allow; beneath asks for allows only.
      if (caller.value(v) == null) {
        return false;
      }
    }
    return true;
  }

  /** Whether the pattern holds ${unit} or ${instance}. */
  public boolean dependsOnUnit() {
    return dependsOnUnit;
  }

  /** The variables the pattern holds; empty for most. */
  public Set<Variable> variables() {
    return variables;
  }

  List<Segment> segments() {
    return segments;
  }

  /**
   * Whether the canonical {@code path} matches, by direct backtracking. The policy matches through
   * {@link PatternTrie}; this independent implementation is the reference it is tested against. A
   * pattern with variables matches nothing here: see {@link #matches(String, Caller)}.
   */
  public boolean matches(String path) {
    return matches(path, null);
  }

  /** Whether the canonical {@code path} matches this pattern as {@code caller}'s values spell it. */
  public boolean matches(String path, Caller caller) {
    String[] components = path.equals("/") ? new String[0] : path.substring(1).split("/", -1);
    return matchFrom(0, components, 0, caller);
  }

  private boolean matchFrom(int s, String[] components, int c, Caller caller) {
    if (s == segments.size()) {
      return c == components.length;
    }
    Segment seg = segments.get(s);
    if (seg instanceof AnyDepth) {
      for (int skip = c; skip <= components.length; skip++) {
        if (matchFrom(s + 1, components, skip, caller)) {
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
      case Template t -> t.matches(components[c], 0, components[c].length(), caller);
      case AnyDepth a -> throw new AssertionError();
    };
    return here && matchFrom(s + 1, components, c + 1, caller);
  }

  @Override
  public String toString() {
    return text;
  }
}
