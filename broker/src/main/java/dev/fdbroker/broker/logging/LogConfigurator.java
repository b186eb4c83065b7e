package dev.fdbroker.broker.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.PatternLayout;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import ch.qos.logback.core.spi.ContextAwareBase;
import ch.qos.logback.core.status.NopStatusListener;
import org.slf4j.Logger;

/**
 * The operational log's configuration: human-readable lines on stderr, with a journald priority
 * prefix when stderr is the journal ({@link JournalPriority}); the level from FDBROKER_LOG_LEVEL,
 * in the environment or as a system property (default INFO). With -Dlogback.configurationFile,
 * logback's own configuration is used instead. The audit log is set up apart (AuditLog): where it
 * goes is part of the policy.
 *
 * <p>In code rather than logback.xml: logback finds this class through the service loader before
 * it looks for XML, and parsing the XML (an XML parser, logback's Joran interpreter) was some 60 ms
 * of the broker's start.
 */
public final class LogConfigurator extends ContextAwareBase implements Configurator {
  static final String PATTERN = "%prio%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level %logger{0}: %msg%n";

  @Override
  public ExecutionStatus configure(LoggerContext context) {
    if (System.getProperty("logback.configurationFile") != null) {
      return ExecutionStatus.INVOKE_NEXT_IF_ANY; // an operator's own logback configuration wins
    }
    // As logback.xml once said: logback's own status messages are not shown (the audit log
    // counts its write errors itself).
    context.getStatusManager().add(new NopStatusListener());
    PatternLayout layout = new PatternLayout();
    layout.setContext(context);
    layout.getInstanceConverterMap().put("prio", JournalPriority::new);
    layout.setPattern(PATTERN);
    layout.start();
    LayoutWrappingEncoder<ILoggingEvent> encoder = new LayoutWrappingEncoder<>();
    encoder.setContext(context);
    encoder.setLayout(layout);
    encoder.start();
    ConsoleAppender<ILoggingEvent> stderr = new ConsoleAppender<>();
    stderr.setContext(context);
    stderr.setName("STDERR");
    stderr.setTarget("System.err");
    stderr.setEncoder(encoder);
    stderr.start();
    ch.qos.logback.classic.Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    String level = System.getenv("FDBROKER_LOG_LEVEL");
    root.setLevel(level(level != null ? level : System.getProperty("FDBROKER_LOG_LEVEL")));
    root.addAppender(stderr);
    return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
  }

  /** The level named (any case), or INFO for none or a name logback does not know. */
  static Level level(String name) {
    return name == null || name.isBlank() ? Level.INFO : Level.toLevel(name.trim(), Level.INFO);
  }
}
