package dev.fdbroker.broker.audit;

import dev.fdbroker.broker.policy.Caller;
import java.time.Instant;

/**
 * One audit record: the broker's decision on one path, or a request refused as a whole. Written as
 * one JSON line by {@link AuditLine}.
 *
 * @param epochNanos when the decision was made, in nanoseconds since the epoch ({@link WallClock}):
 *     a long, not an {@link Instant}, which was an object per record
 * @param connection the connection's id, to group one client's requests
 * @param caller who asked: uid, user name, primary gid, supplementary groups, pid and unit
 * @param executable the caller's executable, from /proc (best effort: null if unreadable)
 * @param op "open", "stat", "list" or "invalid" (a request refused as a whole)
 * @param path the path exactly as requested (for a list, the directory), or null for a whole-request refusal
 * @param decision "allow" or "deny" (the policy's verdict), or "invalid" (not a well-formed path or request)
 * @param rule the rule that decided, or null (default deny, or no decision)
 * @param error the error code if the path was not granted, or if its reply never reached the caller
 *     ({@link #NOT_DELIVERED}, or too_large), else null
 */
public record AuditEvent(long epochNanos, long connection, Caller caller, String executable, String op,
    String path, String decision, String rule, String error, long latencyMicros) {

  /** A record made at {@code time}. */
  public AuditEvent(Instant time, long connection, Caller caller, String executable, String op, String path,
      String decision, String rule, String error, long latencyMicros) {
    this(Math.addExact(Math.multiplyExact(time.getEpochSecond(), 1_000_000_000L), time.getNano()), connection, caller,
        executable, op, path, decision, rule, error, latencyMicros);
  }

  /** The error of a granted path whose reply could not be sent: the caller never got it. */
  public static final String NOT_DELIVERED = "not_delivered";

  /** This record, for a grant whose reply did not reach the caller ({@code error}: why). */
  public AuditEvent undelivered(String error) {
    return new AuditEvent(epochNanos, connection, caller, executable, op, path, decision, rule, error, latencyMicros);
  }

  /**
   * Whether this records a granted file: a descriptor the broker opened for an open request (as
   * decided; whether it was delivered is another matter).
   */
  public boolean isGrant() {
    return "open".equals(op) && "allow".equals(decision) && error == null;
  }

  @Override
  public String toString() {
    return op + " " + path + " " + decision;
  }
}
