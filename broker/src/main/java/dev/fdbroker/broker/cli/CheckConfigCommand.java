package dev.fdbroker.broker.cli;

import dev.fdbroker.broker.policy.ConfigException;
import dev.fdbroker.broker.policy.Policy;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/** {@code fdbroker check-config FILE}: validates a policy file without serving it. */
final class CheckConfigCommand implements Callable<Integer> {
  private final CommandSpec spec = Main.withHelpOptions(CommandSpec.wrapWithoutInspection(this))
      .name("check-config")
      .addPositional(PositionalParamSpec.builder().index("0").required(true).paramLabel("FILE").type(Path.class)
          .description("The policy file (YAML, or JSON if it ends in .json).").build());

  CheckConfigCommand() {
    spec.usageMessage().description(
        "Checks a policy file. Exit 0 if it is valid; otherwise prints file:line:column: field: problem and exits 2.");
  }

  CommandSpec spec() {
    return spec;
  }

  @Override
  public Integer call() {
    Path file = spec.positionalParameters().get(0).getValue();
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
