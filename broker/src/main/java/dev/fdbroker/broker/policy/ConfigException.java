package dev.fdbroker.broker.policy;

import java.util.List;
import java.util.stream.Collectors;

/**
 * A config file that cannot be used. The message names the file, line, column and field, in the
 * form compilers use: {@code policy.yaml:12:7: rules[1].users[0]: unknown user "wroker"}.
 */
public final class ConfigException extends Exception {
  private static final long serialVersionUID = 1L;

  private final String file;
  private final transient Location location;
  private final String field;
  private final String problem;
  private final transient List<ConfigException> all;

  public ConfigException(String file, Location location, String field, String problem) {
    super(format(file, location, field, problem));
    this.file = file;
    this.location = location;
    this.field = field;
    this.problem = problem;
    this.all = List.of(this);
  }

  /** Several problems at once: named as the first, and the message has one line for each. */
  public ConfigException(List<ConfigException> problems) {
    super(problems.stream().map(Throwable::getMessage).collect(Collectors.joining("\n")));
    ConfigException first = problems.get(0);
    this.file = first.file;
    this.location = first.location;
    this.field = first.field;
    this.problem = first.problem;
    this.all = List.copyOf(problems);
  }

  /** Every problem this stands for: itself, or the several it was made of. */
  public List<ConfigException> all() {
    return all;
  }

  /** {@code file:line:column: field: problem}, leaving out what is missing. */
  static String format(String file, Location location, String field, String problem) {
    StringBuilder b = new StringBuilder(file);
    if (location != null) {
      b.append(':').append(location.line()).append(':').append(location.column());
    }
    b.append(": ");
    if (field != null && !field.isEmpty()) {
      b.append(field).append(": ");
    }
    return b.append(problem).toString();
  }

  public String file() {
    return file;
  }

  /** Where in the file, or null if the problem is with the file as a whole. */
  public Location location() {
    return location;
  }

  /** The offending field, as a path such as {@code rules[1].allow[0]}; empty for the whole file. */
  public String field() {
    return field;
  }

  /** The problem, without file and position. */
  public String problem() {
    return problem;
  }
}
