package dev.fdbroker.broker.systemd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Whether the broker runs in a user namespace that does not map every id, as under systemd's
 * {@code PrivateUsers=} or in a container. The kernel reports a caller's uid and gid (SO_PEERCRED)
 * as seen from the broker's namespace, and an id with no mapping there as the overflow id (65534
 * by default: nobody, nogroup). Every unmapped caller then looks like that one user, and a rule
 * for it applies to all of them; the broker cannot tell them apart, so it can only say so.
 */
public final class UserNamespace {
  /** The initial namespace's map: ids from 0, all 4294967295 of them, to themselves. */
  static final String IDENTITY = "0 0 4294967295";

  private UserNamespace() {}

  /**
   * This process's id maps that are not the identity, as {@code uid_map "0 1000 1"} (lines
   * separated by "; "), or empty if both are the identity.
   */
  public static Optional<String> partialMaps() {
    return partialMaps(Path.of("/proc/self"));
  }

  static Optional<String> partialMaps(Path proc) {
    List<String> partial = new ArrayList<>();
    for (String name : List.of("uid_map", "gid_map")) {
      String map;
      try {
        map = Files.readString(proc.resolve(name));
      } catch (NoSuchFileException e) {
        continue; // a kernel built without user namespaces: every process is in the initial one
      } catch (IOException e) {
        map = "unreadable: " + e.getMessage();
      }
      String normalized = normalize(map);
      if (!normalized.equals(IDENTITY)) {
        partial.add(name + " \"" + normalized + "\"");
      }
    }
    return partial.isEmpty() ? Optional.empty() : Optional.of(String.join(", ", partial));
  }

  /** The kernel pads the columns; one space between fields, "; " between lines. */
  private static String normalize(String map) {
    return map.strip().lines().map(l -> l.strip().replaceAll("\\s+", " ")).collect(Collectors.joining("; "));
  }
}
