package dev.fdbroker.broker.audit;

import dev.fdbroker.broker.metrics.BrokerMetrics;
import dev.fdbroker.protocol.JsonBytes;
import java.nio.file.Path;

/**
 * The audit trail: one JSON line per decision ({@link AuditLine}), to stderr (the journal) or a
 * file ({@link AuditTarget}), reopened on reload.
 *
 * <p>Records are encoded by the recording thread and handed to the {@link BatchingWriter}, which
 * never blocks a request. Every record is either written or counted in {@code
 * fdbroker_audit_dropped_total}: dropped when writing falls too far behind (a slow or stuck disk),
 * when a write fails, or when one comes after the log was closed. Failures to open or write the
 * target are counted in {@code fdbroker_audit_write_errors_total}.
 */
public final class AuditLog implements AutoCloseable {
  private final BrokerMetrics metrics;
  private final BatchingWriter writer;
  private volatile Path file;

  private AuditLog(Path file, BrokerMetrics metrics) {
    this.metrics = metrics;
    this.file = file;
    this.writer = new BatchingWriter(AuditTarget.of(file), metrics::auditDropped, metrics::auditWriteError);
  }

  /** An audit log writing to {@code file}, or to stderr if null. */
  public static AuditLog open(Path file, BrokerMetrics metrics) {
    return new AuditLog(file, metrics);
  }

  /** Records one event; never blocks and never throws. */
  public void record(AuditEvent event) {
    JsonBytes line = AuditLine.encodeInPlace(event); // the thread's buffer: the writer copies the line
    if (!writer.offer(line.array(), line.length())) {
      metrics.auditDropped(1); // after close: nothing can take it
    }
  }

  /**
   * Points the log at {@code file} (or stderr), opening it afresh: a reload after log rotation
   * (rename, then reload) starts a new file. Records made before go to the old target.
   */
  public synchronized void reopen(Path file) {
    writer.retarget(AuditTarget.of(file));
    this.file = file;
  }

  public Path file() {
    return file;
  }

  @Override
  public synchronized void close() {
    writer.stop();
  }
}
