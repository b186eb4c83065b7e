package dev.fdbroker.broker.cli;

import dev.fdbroker.broker.BrokerVersion;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code fdbroker} command. */
@Command(
    name = "fdbroker",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Opens files for sandboxed workers and passes them the descriptors over a unix socket.",
    subcommands = {ServeCommand.class, CheckConfigCommand.class, ExplainCommand.class},
    exitCodeListHeading = "%nExit status:%n",
    exitCodeList = {"0:success", "1:failure (see the command)", "2:usage or config error"})
public final class Main implements Runnable {

  /** Exit status for a bad command line or an unusable config file. */
  static final int EXIT_USAGE = 2;

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  static CommandLine commandLine() {
    return new CommandLine(new Main())
        .setExitCodeExceptionMapper(e -> EXIT_USAGE)
        .setCaseInsensitiveEnumValuesAllowed(true);
  }

  @Override
  public void run() {
    CommandLine.usage(this, System.err);
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"fdbroker " + BrokerVersion.get()};
    }
  }
}
