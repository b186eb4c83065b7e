package dev.fdbroker.broker.cli;

import dev.fdbroker.broker.policy.ConfigException;
import dev.fdbroker.broker.policy.ConfigWarning;
import dev.fdbroker.broker.policy.Policy;
import dev.fdbroker.broker.policy.PolicyCheck;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/** {@code fdbroker check-config FILE}: validates a policy file and its drop-ins without serving them. */
final class CheckConfigCommand implements Callable<Integer> {
  private final CommandSpec spec = Main.withHelpOptions(CommandSpec.wrapWithoutInspection(this))
      .name("check-config")
      .addPositional(PositionalParamSpec.builder().index("0").required(true).paramLabel("FILE").type(Path.class)
          .description("The policy file (YAML, or JSON if it ends in .json).").build());

  CheckConfigCommand() {
    spec.usageMessage().description(
        "Checks a policy file and the drop-ins it includes. Prints every error and warning as "
            + "file:line:column: field: problem. Exit 0 if the policy is valid (warnings or not), 2 if not.");
  }

  CommandSpec spec() {
    return spec;
  }

  @Override
  public Integer call() {
    Path file = spec.positionalParameters().get(0).getValue();
    PolicyCheck check = Policy.check(file);
    for (ConfigException e : check.errors()) {
      System.err.println(e.getMessage());
    }
    for (ConfigWarning w : check.warnings()) {
      System.err.println(w);
    }
    if (!check.errors().isEmpty()) {
      System.err.println(file + ": " + count(check.errors().size(), "error") + ", "
          + count(check.warnings().size(), "warning"));
      return Main.EXIT_USAGE;
    }
    Policy policy = check.policy();
    System.out.println(file + ": OK (" + count(policy.rules().size(), "rule")
        + (check.warnings().isEmpty() ? "" : ", " + count(check.warnings().size(), "warning")) + ")");
    return 0;
  }

  private static String count(int n, String what) {
    return n + " " + what + (n == 1 ? "" : "s");
  }
}
