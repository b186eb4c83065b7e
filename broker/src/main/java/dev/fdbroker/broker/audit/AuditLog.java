package dev.fdbroker.broker.audit;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.EncoderBase;
import ch.qos.logback.core.recovery.ResilientOutputStreamBase;
import ch.qos.logback.core.status.Status;
import ch.qos.logback.core.status.StatusListener;
import dev.fdbroker.broker.metrics.BrokerMetrics;
import java.nio.file.Path;
import org.slf4j.LoggerFactory;

/**
 * The audit trail: one JSON line per decision ({@link AuditLine}), to stderr (the journal) or a
 * file, through logback's appenders for the file (reopened on reload, retried after failures).
 *
 * <p>Records are encoded by the recording thread and queued in a bounded queue
 * ({@link BatchingAppender}), which never blocks a request: if writing falls behind (a slow or
 * stuck disk), records are dropped and counted ({@code fdbroker_audit_dropped_total}). Write
 * failures (a full disk) are counted too ({@code fdbroker_audit_write_errors_total}). Records
 * skip logback's loggers and logging events, which the audit does not need.
 */
public final class AuditLog implements AutoCloseable {
  private static final org.slf4j.Logger ops = LoggerFactory.getLogger(AuditLog.class);
  private final LoggerContext context;
  private final BrokerMetrics metrics;
  private volatile BatchingAppender async;
  private Path file;

  private AuditLog(LoggerContext context, BrokerMetrics metrics) {
    this.context = context;
    this.metrics = metrics;
  }

  /** An audit log writing to {@code file}, or to stderr if null. */
  public static AuditLog open(Path file, BrokerMetrics metrics) {
    AuditLog log = new AuditLog((LoggerContext) LoggerFactory.getILoggerFactory(), metrics);
    log.context.getStatusManager().add(log.new WriteErrorCounter());
    log.reopen(file);
    return log;
  }

  /** Records one event; never blocks and never throws. */
  public void record(AuditEvent event) {
    byte[] line = AuditLine.encode(event);
    // A refusal means the target was just switched (a reload) and the old one stopped: the new
    // one takes the record. Refused by both (the log is closing), the record is counted as dropped.
    if (!async.offer(line) && !async.offer(line)) {
      metrics.auditDropped();
    }
  }

  /**
   * Points the log at {@code file} (or stderr), reopening it: a reload after log rotation starts
   * a fresh file. Records queued for the old target are written there first.
   */
  public synchronized void reopen(Path file) {
    BatchingAppender previous = async;
    OutputStreamAppender<ILoggingEvent> target = file == null ? console() : file(file);
    target.setContext(context);
    target.setName(file == null ? "audit-stderr" : "audit-file");
    target.setEncoder(encoder());
    target.setImmediateFlush(false); // the batching appender writes its stream directly, and flushes per batch
    target.start();
    if (!target.isStarted()) {
      ops.error("audit log {} cannot be opened; audit records are dropped until it can", file);
    }
    BatchingAppender next = new BatchingAppender(target, metrics::auditDropped);
    next.setContext(context);
    next.setName("audit-batching");
    next.start();
    async = next;
    this.file = file;
    if (previous != null) {
      previous.stop(); // writes what it holds, then closes its target
    }
  }

  public Path file() {
    return file;
  }

  private ConsoleAppender<ILoggingEvent> console() {
    ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
    console.setTarget("System.err");
    return console;
  }

  private FileAppender<ILoggingEvent> file(Path path) {
    FileAppender<ILoggingEvent> appender = new FileAppender<>();
    appender.setFile(path.toString());
    appender.setAppend(true);
    return appender;
  }

  private LineEncoder encoder() {
    LineEncoder encoder = new LineEncoder();
    encoder.setContext(context);
    encoder.start();
    return encoder;
  }

  /**
   * The target's encoder: logback's appenders need one to start, though the audit's records reach
   * the target already encoded. Handed a logging event with an {@link AuditEvent} argument, it
   * writes the same line.
   */
  private static final class LineEncoder extends EncoderBase<ILoggingEvent> {
    @Override
    public byte[] headerBytes() {
      return null;
    }

    @Override
    public byte[] encode(ILoggingEvent event) {
      Object[] args = event.getArgumentArray();
      if (args != null && args.length > 0 && args[0] instanceof AuditEvent e) {
        return AuditLine.encode(e, event.getInstant());
      }
      return new byte[0];
    }

    @Override
    public byte[] footerBytes() {
      return null;
    }
  }

  @Override
  public synchronized void close() {
    if (async != null) {
      async.stop();
    }
  }

  /** Counts the errors logback reports for the audit appenders (failed writes, unopenable files). */
  private final class WriteErrorCounter implements StatusListener {
    @Override
    public void addStatusEvent(Status status) {
      if (status.getLevel() != Status.ERROR) {
        return;
      }
      Object origin = status.getOrigin();
      // A failed write is reported by the file's resilient stream; only the audit log writes files.
      boolean auditAppender = origin instanceof OutputStreamAppender<?> a && a.getName() != null
          && a.getName().startsWith("audit-");
      if (auditAppender || origin instanceof ResilientOutputStreamBase) {
        metrics.auditWriteError();
      }
    }

    @Override
    public boolean isResetResistant() {
      return true;
    }
  }
}
