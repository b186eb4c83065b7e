package dev.fdbroker.broker.cli;

import dev.fdbroker.broker.BrokerVersion;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The {@code fdbroker} command.
 *
 * <p>The commands are described to picocli in code (its programmatic model), not with annotations:
 * reading annotations means reflection and a generated proxy class per annotation type, which
 * was a sixth of the broker's start-up; a command's options are plain data here, next to the code
 * that reads them.
 */
public final class Main implements Runnable {

  /** Exit status for a bad command line or an unusable config file. */
  static final int EXIT_USAGE = 2;

  /** Exit status for a command that could not do its work (the command logs why). */
  static final int EXIT_FAILURE = 1;

  private CommandLine commandLine;

  public static void main(String[] args) {
    Preload.start();
    CommandLine commandLine = commandLine(); // makes no logger: logging is being set up meanwhile
    Preload.awaitLogging();
    System.exit(commandLine.execute(args));
  }

  static CommandLine commandLine() {
    Main main = new Main();
    CommandSpec spec = withHelpOptions(CommandSpec.wrapWithoutInspection(main))
        .name("fdbroker")
        .versionProvider(() -> new String[] {"fdbroker " + BrokerVersion.get()});
    Map<String, String> exitCodes = new LinkedHashMap<>();
    exitCodes.put("0", "success");
    exitCodes.put("1", "failure (see the command)");
    exitCodes.put("2", "usage or config error");
    spec.usageMessage()
        .description("Opens files for sandboxed workers and passes them the descriptors over a unix socket.")
        .exitCodeListHeading("%nExit status:%n")
        .exitCodeList(exitCodes);
    spec.addSubcommand("serve", new ServeCommand().spec());
    spec.addSubcommand("check-config", new CheckConfigCommand().spec());
    spec.addSubcommand("explain", new ExplainCommand().spec());
    main.commandLine = new CommandLine(spec)
        .setExitCodeExceptionMapper(e -> EXIT_USAGE)
        .setCaseInsensitiveEnumValuesAllowed(true);
    return main.commandLine;
  }

  /**
   * Adds -h/--help and -V/--version, as picocli's standard help mixin would (which it builds from
   * annotations, by reflection).
   */
  static CommandSpec withHelpOptions(CommandSpec spec) {
    return spec
        .addOption(OptionSpec.builder("-h", "--help").usageHelp(true)
            .description("Show this help message and exit.").build())
        .addOption(OptionSpec.builder("-V", "--version").versionHelp(true)
            .description("Print version information and exit.").build());
  }

  /** No command given: say what there is. */
  @Override
  public void run() {
    commandLine.usage(System.err);
  }
}
