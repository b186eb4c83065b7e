package dev.fdbroker.broker.cli;

import dev.fdbroker.broker.policy.ConfigException;
import dev.fdbroker.broker.policy.ConfigWarning;
import dev.fdbroker.broker.policy.Policy;
import dev.fdbroker.broker.policy.PolicyCheck;
import dev.fdbroker.broker.replay.AuditReplay;
import dev.fdbroker.broker.replay.BadAuditLineException;
import dev.fdbroker.broker.replay.ReplayReport;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code fdbroker check-config FILE}: validates a policy file and its drop-ins without serving them.
 * With {@code --replay AUDIT}, also replays an audit log's decisions against it ({@link AuditReplay}).
 */
final class CheckConfigCommand implements Callable<Integer> {
  private final CommandSpec spec = Main.withHelpOptions(CommandSpec.wrapWithoutInspection(this))
      .name("check-config")
      .addOption(OptionSpec.builder("--replay").paramLabel("AUDIT").type(Path.class)
          .description("An audit log (one JSON line per decision) to replay against the policy FILE.").build())
      .addPositional(PositionalParamSpec.builder().index("0").required(true).paramLabel("FILE").type(Path.class)
          .description("The policy file (YAML, or JSON if it ends in .json).").build());

  CheckConfigCommand() {
    spec.usageMessage().width(100).description(
        "Checks a policy file and the drop-ins it includes. Prints every error and warning as "
            + "file:line:column: field: problem. Exit 0 if the policy is valid (warnings or not), 2 if not.",
        "",
        "With --replay AUDIT, FILE is a new policy, and every decision in the audit log (a line with op "
            + "\"open\" and decision \"allow\" or \"deny\") is replayed against it, offline: no broker is asked "
            + "and no file but AUDIT and FILE (with its drop-ins) is read. Prints one line for each caller, path "
            + "and direction whose answer would change, all \"allow -> deny\" lines first, then \"deny -> "
            + "allow\", each sorted by caller, then path:",
        "",
        "  allow -> deny  count=N uid=UID(USER) gid=GID groups=G,G unit=UNIT path=PATH was=RULE now=RULE",
        "",
        "count: the decisions; (USER), groups and unit: only if the caller had them; was: the rules that "
            + "decided then, now: the rule that decides now, (none) for the default deny. A value with a space, "
            + "a control character, a quote, a backslash or a parenthesis is printed as a JSON string. A line "
            + "ends in \"(if the caller owns the file)\" when the new allow is by a rule with owner: caller. "
            + "Then come notes (\"note: ...\"), if any, and last: replayed N decisions: K would change "
            + "(K counts decisions). Exit 0 once replayed, 1 on an unusable policy, an unreadable log or a "
            + "malformed line (AUDIT:LINE: problem).");
  }

  CommandSpec spec() {
    return spec;
  }

  @Override
  public Integer call() {
    Path file = spec.positionalParameters().get(0).getValue();
    Path audit = spec.findOption("--replay").getValue();
    if (audit != null) {
      return replay(audit, file);
    }
    PolicyCheck check = check(file);
    if (check.policy() == null) {
      return Main.EXIT_USAGE;
    }
    System.out.println(file + ": OK (" + count(check.policy().rules().size(), "rule")
        + (check.warnings().isEmpty() ? "" : ", " + count(check.warnings().size(), "warning")) + ")");
    return 0;
  }

  /** Checks the policy, printing every error and warning; the policy is null if there are errors. */
  private static PolicyCheck check(Path file) {
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
    }
    return check;
  }

  /**
   * Replays {@code audit} against the policy {@code file}. Unlike a plain check, a bad policy is a
   * failure (1), not a usage error: the replay ran and found the policy unusable, as it would a
   * malformed log.
   */
  private static int replay(Path audit, Path file) {
    // Opened first, so that a log that is not there is one line, whatever the policy says.
    try (InputStream in = Files.newInputStream(audit)) {
      PolicyCheck check = check(file);
      if (check.policy() == null) {
        return Main.EXIT_FAILURE;
      }
      ReplayReport report = AuditReplay.replay(check.policy(), in, audit.toString());
      // UTF-8 whatever the locale: paths are printed as the log holds them.
      PrintWriter out = new PrintWriter(new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8)));
      report.lines().forEach(out::println);
      out.flush();
      return 0;
    } catch (BadAuditLineException e) {
      System.err.println(e.getMessage());
      return Main.EXIT_FAILURE;
    } catch (IOException e) {
      System.err.println(audit + ": cannot read the audit log: " + describe(e));
      return Main.EXIT_FAILURE;
    }
  }

  private static String describe(IOException e) {
    if (e instanceof FileSystemException fse) {
      String kind = fse instanceof java.nio.file.NoSuchFileException ? "no such file"
          : fse instanceof java.nio.file.AccessDeniedException ? "permission denied" : fse.getClass().getSimpleName();
      return fse.getReason() == null ? kind : kind + " (" + fse.getReason() + ")";
    }
    return e.getMessage();
  }

  private static String count(int n, String what) {
    return n + " " + what + (n == 1 ? "" : "s");
  }
}
