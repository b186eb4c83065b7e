package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The demo from README.md, run as a newcomer would run it (minus the build, done by Maven already). */
class DemoIT {

  @Test
  void theDemoReadsAnAllowedFileAndIsRefusedTheRest() throws Exception {
    Path root = ItSupport.projectRoot();
    String javaHome = Path.of(ItSupport.java()).getParent().getParent().toString();
    ItSupport.Result r = ItSupport.run(List.of(root.resolve("scripts/demo.sh").toString()), Duration.ofSeconds(120),
        Map.of("JAVA_HOME", javaHome), root);
    r.assertExit(0);
    assertTrue(r.stdout().contains("ID="), "the allowed file's content is printed:\n" + r.stdout());
    assertTrue(r.stderr().contains("fdcat: /etc/shadow: denied: not allowed by policy"), r.stderr());
    assertTrue(r.stderr().contains("fdcat: /etc/os-release: symlink:"), r.stderr());
    assertTrue(r.stdout().contains("Demo done."), r.stdout());
  }
}
