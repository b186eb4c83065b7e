package dev.fdbroker.broker.cli;

import dev.fdbroker.broker.opener.SecureOpener;
import dev.fdbroker.broker.policy.Caller;
import dev.fdbroker.broker.policy.ConfigException;
import dev.fdbroker.broker.policy.Decision;
import dev.fdbroker.broker.policy.Policy;
import dev.fdbroker.broker.policy.Rule;
import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.broker.posix.PosixException;
import dev.fdbroker.protocol.PathSyntax;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code fdbroker explain}: says, for a caller and some paths, what the policy decides and which
 * rule decided. It reads no file but the policy, exactly like the broker's decision step.
 */
final class ExplainCommand implements Callable<Integer> {
  private final CommandSpec spec = Main.withHelpOptions(CommandSpec.wrapWithoutInspection(this))
      .name("explain")
      .addOption(OptionSpec.builder("--config").required(true).paramLabel("FILE").type(Path.class)
          .description("The policy file.").build())
      .addOption(OptionSpec.builder("--uid").required(true).paramLabel("UID").type(String.class)
          .description("The caller's uid (or user name).").build())
      .addOption(OptionSpec.builder("--gid").paramLabel("GID").type(String.class)
          .description("The caller's primary gid (or group name). Default: the user's primary group.").build())
      .addOption(OptionSpec.builder("--groups").paramLabel("GROUP,...").type(String.class)
          .description("The caller's supplementary groups (names or gids, comma-separated; \"\" for none). "
              + "Default: the user's groups in the group database.").build())
      .addOption(OptionSpec.builder("--unit").paramLabel("NAME").type(String.class)
          .description("The systemd unit the caller runs in, such as render-worker@tenant1.service. "
              + "Default: none.").build())
      .addOption(OptionSpec.builder("--check-files").arity("0")
          .description("For each allowed path, also open it as the broker would (read-only, no symlinks, regular "
              + "files only, and the owner where the rule says owner: caller) and say what it would answer. "
              + "Uses this command's own rights.").build())
      .addPositional(PositionalParamSpec.builder().arity("1..*").required(true).paramLabel("PATH").type(List.class)
          .auxiliaryTypes(String.class).description("Absolute paths, as a worker would request them.").build());

  private Path config;
  private String uid;
  private String gid;
  private String groups;
  private String unit;

  ExplainCommand() {
    spec.usageMessage().description(
        "Shows, for each PATH, whether the policy allows the caller to open it and which rule decided;",
        "with --check-files, also what the broker would answer for an allowed file.",
        "Exit 0 if every path is allowed, 1 if any is denied or malformed, 2 on a usage or config error.");
  }

  CommandSpec spec() {
    return spec;
  }

  @Override
  public Integer call() {
    config = spec.findOption("--config").getValue();
    uid = spec.findOption("--uid").getValue();
    gid = spec.findOption("--gid").getValue();
    groups = spec.findOption("--groups").getValue();
    unit = spec.findOption("--unit").getValue();
    boolean checkFiles = Boolean.TRUE.equals(spec.findOption("--check-files").getValue());
    List<String> paths = spec.positionalParameters().get(0).getValue();
    PrintStream out = System.out;
    Policy policy;
    Caller caller;
    try {
      policy = Policy.load(config);
      caller = caller();
    } catch (ConfigException | IllegalArgumentException | PosixException e) {
      System.err.println(e.getMessage());
      return Main.EXIT_USAGE;
    }
    StringBuilder who = new StringBuilder("caller: uid " + caller.uid() + userName(caller.uid()) + ", gid "
        + caller.gid() + groupName(caller.gid()));
    long[] supplementary = caller.groups();
    who.append(supplementary.length == 0 ? ", no supplementary groups" : ", groups ");
    for (int i = 0; i < supplementary.length; i++) {
      who.append(i == 0 ? "" : ", ").append(supplementary[i]).append(groupName(supplementary[i]));
    }
    who.append(caller.unit() == null ? ", no unit" : ", unit " + caller.unit());
    out.println(who);
    SecureOpener opener = null;
    if (checkFiles) {
      try {
        opener = SecureOpener.forThisKernel();
      } catch (IllegalStateException e) {
        System.err.println("--check-files: " + e.getMessage());
        return Main.EXIT_USAGE;
      }
    }
    List<String> applying = policy.rules().stream().filter(r -> r.appliesTo(caller)).map(Rule::name).toList();
    out.println(applying.isEmpty() ? "no rule applies to this caller"
        : "rules that apply: " + String.join(", ", applying));
    boolean allAllowed = true;
    for (String path : paths) {
      String problem = PathSyntax.problem(path);
      if (problem != null) {
        out.println("bad    " + path);
        out.println("       the broker answers bad_request: " + problem);
        allAllowed = false;
        continue;
      }
      Decision d = policy.decide(caller, path);
      switch (d) {
        case Decision.Allowed a -> {
          out.println("allow  " + path);
          out.println("       " + ruleRef(a.rule()) + " allows it with pattern " + a.pattern()
              + (a.rule().ownerIsCaller() ? " if the caller owns the file (owner: caller)" : ""));
          if (opener != null) {
            String answer = FileCheck.answer(opener, path,
                a.rule().ownerIsCaller() ? caller.uid() : SecureOpener.ANY_OWNER);
            out.println("       the broker would answer: " + answer);
            allAllowed &= answer.startsWith(FileCheck.GRANTED);
          }
        }
        case Decision.Denied dn -> {
          out.println("deny   " + path);
          out.println("       " + ruleRef(dn.rule()) + " denies it with pattern " + dn.pattern()
              + " (a deny beats every allow)");
        }
        case Decision.NoRuleAllows n -> {
          out.println("deny   " + path);
          out.println("       no rule that applies to this caller allows it (default deny)");
          Decision.Traversable t = policy.beneath(caller, path);
          if (t != null) {
            out.println("       stat and list still show it if it is a directory: " + ruleRef(t.rule())
                + " allows pattern " + t.pattern() + " below it");
          }
        }
        case Decision.Traversable t -> throw new AssertionError("decide never answers traversable");
      }
      allAllowed &= d.allowed();
    }
    return allAllowed ? 0 : 1;
  }

  private static String ruleRef(Rule rule) {
    return "rule \"" + rule.name() + "\" (" + rule.file() + ":" + rule.location() + ")";
  }

  private Caller caller() throws PosixException {
    long u;
    Optional<Posix.PasswdEntry> entry;
    if (isNumber(uid)) {
      u = Long.parseLong(uid);
      entry = Posix.userById(u);
    } else {
      entry = Posix.userByName(uid);
      u = entry.orElseThrow(() -> new IllegalArgumentException("unknown user \"" + uid + "\"")).uid();
    }
    long g;
    if (gid != null) {
      g = groupId(gid);
    } else {
      g = entry.orElseThrow(() -> new IllegalArgumentException(
          "uid " + uid + " has no user database entry to take a primary group from; give --gid")).gid();
    }
    long[] supplementary;
    if (groups != null) {
      supplementary = groups.isBlank() ? new long[0]
          : java.util.Arrays.stream(groups.split(",")).map(String::trim).mapToLong(ExplainCommand::groupId).toArray();
    } else {
      // As the broker would see a process of this user started by login or systemd (initgroups).
      supplementary = entry.map(e -> Posix.groupsOfUser(e.name(), e.gid())).orElse(new long[0]);
    }
    long primary = g;
    supplementary = java.util.Arrays.stream(supplementary).filter(x -> x != primary).distinct().sorted().toArray();
    if (unit != null && unit.isBlank()) {
      throw new IllegalArgumentException("--unit needs a unit name");
    }
    return new Caller(u, g, 0, supplementary, entry.map(Posix.PasswdEntry::name).orElse(null), unit);
  }

  private static long groupId(String name) {
    try {
      return isNumber(name) ? Long.parseLong(name)
          : Posix.groupByName(name).orElseThrow(() -> new IllegalArgumentException("unknown group \"" + name + "\""))
              .gid();
    } catch (PosixException e) {
      throw new IllegalArgumentException("could not look up group \"" + name + "\": " + e.getMessage());
    }
  }

  private static boolean isNumber(String s) {
    return !s.isEmpty() && s.length() <= 10 && s.chars().allMatch(Character::isDigit);
  }

  private static String userName(long uid) {
    try {
      return Posix.userById(uid).map(e -> " (" + e.name() + ")").orElse("");
    } catch (PosixException e) {
      return "";
    }
  }

  private static String groupName(long gid) {
    try {
      return Posix.groupById(gid).map(e -> " (" + e.name() + ")").orElse("");
    } catch (PosixException e) {
      return "";
    }
  }
}
