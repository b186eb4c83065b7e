package dev.fdbroker.broker.cli;

import dev.fdbroker.broker.policy.ConfigException;
import dev.fdbroker.broker.policy.Policy;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code fdbroker check-config FILE}: validates a policy file without serving it. */
@Command(
    name = "check-config",
    mixinStandardHelpOptions = true,
    description = "Checks a policy file. Exit 0 if it is valid; otherwise prints file:line:column: field: problem and exits 2.")
final class CheckConfigCommand implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "FILE", description = "The policy file (YAML, or JSON if it ends in .json).")
  Path file;

  @Override
  public Integer call() {
    try {
      Policy policy = Policy.load(file);
      System.out.println(file + ": OK (" + policy.rules().size() + " rule"
          + (policy.rules().size() == 1 ? "" : "s") + ")");
      return 0;
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      return Main.EXIT_USAGE;
    }
  }
}
