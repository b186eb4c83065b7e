package dev.fdbroker.broker.policy;

import java.nio.file.Path;

/**
 * Where metrics and audit records go, set in the policy file under {@code metrics:} and
 * {@code audit:}.
 *
 * @param metricsListen where to serve /metrics: {@code host:port}, {@code unix:/path}, or null
 *     for no endpoint
 * @param auditFile the file audit records are appended to, or null for stderr (the journal)
 */
public record Observability(String metricsListen, Path auditFile) {
  public static final Observability DEFAULTS = new Observability(null, null);
}
