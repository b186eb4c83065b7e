package dev.fdbroker.broker.audit;

/**
 * One audit record: the broker's decision on one path, or a request refused as a whole. Written as
 * one JSON line by {@link AuditLine}.
 *
 * @param connection the connection's id, to group one client's requests
 * @param executable the caller's executable, from /proc (best effort: null if unreadable)
 * @param op "open", "ping" or "invalid" (a request refused as a whole)
 * @param path the path exactly as requested, or null for a whole-request refusal
 * @param decision "allow" or "deny" (the policy's verdict), or "invalid" (not a well-formed path or request)
 * @param rule the rule that decided, or null (default deny, or no decision)
 * @param error the error code if the path was not granted, else null
 */
public record AuditEvent(long connection, long uid, long gid, long pid, String executable, String op,
    String path, String decision, String rule, String error, long latencyMicros) {

  @Override
  public String toString() {
    return op + " " + path + " " + decision;
  }
}
