package dev.fdbroker.broker.logging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator.ExecutionStatus;
import ch.qos.logback.core.ConsoleAppender;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;

class LogConfiguratorTest {

  @Test
  void theLevelComesFromItsNameInAnyCaseAndIsInfoOtherwise() {
    assertEquals(Level.DEBUG, LogConfigurator.level("debug"));
    assertEquals(Level.WARN, LogConfigurator.level(" WARN "));
    assertEquals(Level.INFO, LogConfigurator.level(null));
    assertEquals(Level.INFO, LogConfigurator.level(""));
    assertEquals(Level.INFO, LogConfigurator.level("chatty"));
  }

  @Test
  void configuresOneStderrAppenderWithTheJournalPriorityWord() {
    LoggerContext context = new LoggerContext();
    LogConfigurator configurator = new LogConfigurator();
    configurator.setContext(context);
    assertEquals(ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY, configurator.configure(context));
    ch.qos.logback.classic.Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    ConsoleAppender<?> stderr = (ConsoleAppender<?>) root.getAppender("STDERR");
    assertTrue(stderr.isStarted());
    assertEquals("System.err", stderr.getTarget());
    assertTrue(context.getStatusManager().getCopyOfStatusList().stream().noneMatch(s -> s.getLevel() > 0),
        "the pattern, %prio included, is understood: " + context.getStatusManager().getCopyOfStatusList());
  }

  @Test
  void anOperatorsLogbackConfigurationFileWins() {
    System.setProperty("logback.configurationFile", "/etc/fdbroker/logback.xml");
    try {
      LoggerContext context = new LoggerContext();
      LogConfigurator configurator = new LogConfigurator();
      configurator.setContext(context);
      assertEquals(ExecutionStatus.INVOKE_NEXT_IF_ANY, configurator.configure(context));
      assertNull(context.getLogger(Logger.ROOT_LOGGER_NAME).getAppender("STDERR"), "nothing configured here");
    } finally {
      System.clearProperty("logback.configurationFile");
    }
  }
}
