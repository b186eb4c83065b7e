package dev.fdbroker.broker.policy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The warnings {@code check-config} gives about valid rules that are rarely what was meant: what
 * they would open, not whether they can be read.
 */
final class PolicyLint {
  private static final Set<String> KERNEL_TREES = Set.of("proc", "sys", "dev");

  private PolicyLint() {}

  /** What is doubtful about one pattern of a rule. */
  static List<String> pattern(PathPattern p, boolean allow, boolean everyone, List<UnitPattern> units) {
    List<String> found = new ArrayList<>();
    List<PathPattern.Segment> segs = p.segments();
    if (allow) {
      String kernel = kernelTree(segs);
      if (kernel != null) {
        found.add(kernel);
      }
      if (everyone && isBroad(segs)) {
        found.add("users: [\"*\"] lets every caller on the host open what " + p + " matches; "
            + "name the users, groups or units that need it");
      }
    }
    for (char c : new char[] {'?', '[', '{'}) {
      if (p.text().replace("${", "").indexOf(c) >= 0) {
        found.add("'" + c + "' matches itself here, not as in a shell glob (only '*' and '**' are wildcards)");
        break;
      }
    }
    if (units.isEmpty()) {
      for (Variable v : p.variables()) {
        if (v.isUnits()) {
          found.add(v + " is set only for callers in a systemd unit, and this rule names no \"units\": "
              + "for callers it applies to by user or group the pattern matches nothing");
        }
      }
    } else if (p.variables().contains(Variable.INSTANCE) && units.stream().noneMatch(UnitPattern::canBeInstance)) {
      found.add("${instance} is set only for instances of template units (name@instance.service), "
          + "and none of this rule's units is one: the pattern matches nothing");
    }
    return found;
  }

  private static String kernelTree(List<PathPattern.Segment> segs) {
    if (segs.isEmpty()) {
      return null;
    }
    String problem = "many files there look like regular files (/proc/PID/environ, /proc/PID/mem) and would be "
        + "opened with the broker's rights";
    return switch (segs.get(0)) {
      case PathPattern.Literal l -> KERNEL_TREES.contains(l.text()) ? "allows files under /" + l.text() + ": " + problem
          : null;
      case PathPattern.AnyDepth a -> segs.size() == 1 ? "matches every path on the host, /proc, /sys and /dev included"
          : "starts with '**', so it can match under /proc, /sys and /dev: " + problem;
      case PathPattern.Glob g -> KERNEL_TREES.stream().anyMatch(g::matches)
          ? "'" + g.text() + "' matches /proc, /sys or /dev: " + problem : null;
      case PathPattern.Template t -> "its first component is a variable: a caller whose " + t.text()
          + " is proc, sys or dev reaches there: " + problem;
    };
  }

  /**
   * Why a drop-in directory or file is a door into the policy, or null: whoever may write it
   * writes rules.
   */
  static String writableByOthers(Path p) {
    try {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
      if (perms.contains(PosixFilePermission.GROUP_WRITE) || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
        return p + " is writable by its group or by everyone (" + PosixFilePermissions.toString(perms)
            + "): whoever can write it can write rules";
      }
    } catch (IOException | UnsupportedOperationException e) {
      return null;
    }
    return null;
  }

  /** A wildcard within the first two components: most of a host, or everyone's homes. */
  private static boolean isBroad(List<PathPattern.Segment> segs) {
    for (int i = 0; i < Math.min(2, segs.size()); i++) {
      if (segs.get(i) instanceof PathPattern.AnyDepth || segs.get(i) instanceof PathPattern.Glob) {
        return true;
      }
    }
    return false;
  }
}
