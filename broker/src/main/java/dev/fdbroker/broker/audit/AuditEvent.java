package dev.fdbroker.broker.audit;

import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import net.logstash.logback.argument.StructuredArgument;

/**
 * One audit record: the broker's decision on one path, or a request refused as a whole. Written as
 * the fields of one JSON line by the encoder, which does all escaping.
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
    String path, String decision, String rule, String error, long latencyMicros) implements StructuredArgument {

  @Override
  public void writeTo(JsonGenerator g) throws IOException {
    g.writeNumberField("conn", connection);
    g.writeNumberField("uid", uid);
    g.writeNumberField("gid", gid);
    g.writeNumberField("pid", pid);
    g.writeStringField("exe", executable);
    g.writeStringField("op", op);
    g.writeStringField("path", safe(path));
    g.writeStringField("decision", decision);
    g.writeStringField("rule", rule);
    g.writeStringField("error", error);
    g.writeNumberField("latency_us", latencyMicros);
  }

  /**
   * JSON strings are Unicode; a requested path can carry an unpaired surrogate (it is then refused
   * as malformed), which is written as U+FFFD rather than break the line.
   */
  private static String safe(String s) {
    if (s == null) {
      return null;
    }
    for (int i = 0; i < s.length(); i++) {
      if (Character.isSurrogate(s.charAt(i))) {
        StringBuilder b = new StringBuilder(s.length());
        s.codePoints().forEach(cp -> b.appendCodePoint(cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : cp));
        return b.toString();
      }
    }
    return s;
  }

  @Override
  public String toString() {
    return op + " " + path + " " + decision;
  }
}
