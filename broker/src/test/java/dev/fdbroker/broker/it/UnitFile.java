package dev.fdbroker.broker.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a systemd unit file gives the process it starts, for tests that start the broker as the
 * unit would where systemd cannot (it is not PID 1 here): HostBroker, and PackagingIT with the
 * installed unit.
 */
public final class UnitFile {
  private UnitFile() {}

  /** The Key=Value lines of one section of a unit file (for a repeated key, the last). */
  public static Map<String, String> section(Path unit, String name) throws IOException {
    Map<String, String> values = new LinkedHashMap<>();
    String current = null;
    for (String line : Files.readAllLines(unit)) {
      line = line.strip();
      if (line.startsWith("[")) {
        current = line.substring(1, line.length() - 1);
      } else if (name.equals(current) && !line.isEmpty() && !line.startsWith("#") && line.contains("=")) {
        values.put(line.substring(0, line.indexOf('=')), line.substring(line.indexOf('=') + 1));
      }
    }
    return values;
  }

  /**
   * setpriv options that give a process what a [Service] section gives it: its User= and Group=,
   * its ambient and bounding capabilities, NoNewPrivileges=.
   */
  public static List<String> privileges(Map<String, String> service) {
    List<String> opts = new ArrayList<>(List.of("setpriv", "--reuid=" + service.get("User"),
        "--regid=" + service.get("Group"), "--init-groups"));
    String ambient = capabilities(service.getOrDefault("AmbientCapabilities", ""));
    String bounding = capabilities(service.getOrDefault("CapabilityBoundingSet", ""));
    opts.add("--inh-caps=-all" + ambient);
    opts.add("--ambient-caps=-all" + ambient);
    opts.add("--bounding-set=-all" + bounding);
    if ("yes".equals(service.get("NoNewPrivileges"))) {
      opts.add("--no-new-privs");
    }
    opts.add("--");
    return opts;
  }

  /**
   * The unit's view of /proc, where the service manager cannot give it here: a private mount
   * namespace with a proc mounted as ProtectProc= and ProcSubset= say (hidepid, subset), entered
   * in place, so the service keeps its pid. Empty when the unit asks for the host's /proc.
   */
  public static List<String> procView(Map<String, String> service) {
    List<String> options = new ArrayList<>();
    String protect = service.getOrDefault("ProtectProc", "default");
    if (!protect.equals("default")) {
      options.add("hidepid=" + protect);
    }
    if ("pid".equals(service.get("ProcSubset"))) {
      options.add("subset=pid");
    }
    if (options.isEmpty()) {
      return List.of();
    }
    return List.of("unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
        "mount -t proc -o " + String.join(",", options) + " proc /proc && exec \"$@\"", "sh");
  }

  private static String capabilities(String unitList) {
    StringBuilder b = new StringBuilder();
    for (String cap : unitList.split("\\s+")) {
      if (!cap.isEmpty()) {
        b.append(",+").append(cap.toLowerCase(Locale.ROOT).replaceFirst("^cap_", ""));
      }
    }
    return b.toString();
  }
}
