package dev.fdbroker.broker.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.pattern.ClassicConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import dev.fdbroker.broker.posix.FileStat;
import dev.fdbroker.broker.posix.Posix;

/**
 * The {@code %prio} pattern word: a syslog priority prefix such as {@code <4>} that journald reads
 * off each line, so that {@code journalctl -p warning} finds the broker's warnings. Only when
 * stderr really is the journal: JOURNAL_STREAM names the device and inode of the stream journald
 * gave the service, and must match stderr (a child whose stderr was redirected inherits the
 * variable but not the stream).
 */
public final class JournalPriority extends ClassicConverter {
  private static final boolean ENABLED = stderrIsTheJournal(System.getenv("JOURNAL_STREAM"));

  @Override
  public String convert(ILoggingEvent event) {
    if (!ENABLED) {
      return "";
    }
    return switch (event.getLevel().toInt()) {
      case Level.ERROR_INT -> "<3>";
      case Level.WARN_INT -> "<4>";
      case Level.INFO_INT -> "<6>";
      default -> "<7>";
    };
  }

  static boolean stderrIsTheJournal(String journalStream) {
    if (journalStream == null || journalStream.indexOf(':') < 0) {
      return false;
    }
    try {
      FileStat stderr = Posix.fstat(2);
      String[] devIno = journalStream.split(":", 2);
      return Long.parseUnsignedLong(devIno[0]) == makedev(stderr.device())
          && Long.parseUnsignedLong(devIno[1]) == stderr.inode();
    } catch (Exception | LinkageError e) {
      return false;
    }
  }

  /** glibc's dev_t encoding of a major:minor pair (as {@code FileStat} holds it: major << 32 | minor). */
  static long makedev(long majorMinor) {
    long major = majorMinor >>> 32;
    long minor = majorMinor & 0xffffffffL;
    return ((major & 0xfffff000L) << 32) | ((major & 0xfffL) << 8) | ((minor & 0xffffff00L) << 12) | (minor & 0xffL);
  }
}
