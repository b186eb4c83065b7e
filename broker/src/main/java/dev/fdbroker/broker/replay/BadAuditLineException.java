package dev.fdbroker.broker.replay;

/** A line of an audit log that cannot be replayed; the message is {@code AUDIT:LINE: problem}. */
public final class BadAuditLineException extends Exception {
  private static final long serialVersionUID = 1L;

  private final long line;
  private final String problem;

  BadAuditLineException(String file, long line, String problem) {
    super(file + ":" + line + ": " + problem);
    this.line = line;
    this.problem = problem;
  }

  /** The line's number, from 1. */
  public long line() {
    return line;
  }

  /** What is wrong with it, without file and line. */
  public String problem() {
    return problem;
  }
}
