package dev.fdbroker.broker.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UserNamespaceTest {
  @TempDir
  Path proc;

  Optional<String> maps(String uidMap, String gidMap) throws Exception {
    if (uidMap != null) {
      Files.writeString(proc.resolve("uid_map"), uidMap);
    }
    if (gidMap != null) {
      Files.writeString(proc.resolve("gid_map"), gidMap);
    }
    return UserNamespace.partialMaps(proc);
  }

  @Test
  void theInitialNamespaceMapsEveryIdToItself() throws Exception {
    // As the kernel prints it: right-aligned columns.
    assertEquals(Optional.empty(), maps("         0          0 4294967295\n", "         0          0 4294967295\n"));
    assertEquals(Optional.empty(), maps(null, null), "a kernel without user namespaces has no map files");
  }

  @Test
  void anyOtherMapIsNamed() throws Exception {
    assertEquals(Optional.of("uid_map \"0 0 1\", gid_map \"0 0 1\""),
        maps("         0          0          1\n", "         0          0          1\n"));
    assertEquals(Optional.of("uid_map \"0 100000 65536\""),
        maps("0 100000 65536\n", "0 0 4294967295\n"));
    assertEquals(Optional.of("gid_map \"0 1000 1; 1 100000 65535\""),
        maps("0 0 4294967295\n", "0 1000 1\n1 100000 65535\n"));
    assertEquals(Optional.of("uid_map \"\""), maps("", "0 0 4294967295\n"), "no ids mapped at all yet");
  }
}
