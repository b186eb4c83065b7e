package dev.fdbroker.broker.it;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The Python client (client-python/fdbroker.py) passes its own tests, run here so that
 * {@code ./run test} runs them: they start the broker from the jar this build made, with this
 * build's java, so the client is tested against the broker it ships with.
 */
class PythonClientIT {

  @Test
  void thePythonClientsTestsPass() throws Exception {
    Path root = ItSupport.projectRoot();
    Map<String, String> env = Map.of(
        "FDBROKER_JAR", ItSupport.brokerJar().toString(),
        "FDBROKER_JAVA", ItSupport.java(),
        // A missing jar fails the run instead of skipping the tests that need the broker.
        "FDBROKER_REQUIRE_BROKER", "1",
        "PYTHONDONTWRITEBYTECODE", "1");
    // The tests take under 20 s (under 10 s on an idle machine); the margin is for a loaded one.
    ItSupport.Result r = ItSupport.run(
        List.of(ItSupport.python(), "-m", "unittest", "discover", "-s", "client-python", "-v"),
        Duration.ofSeconds(180), env, root);
    // unittest reports on stderr; shown whatever the outcome, so the log says what ran.
    System.out.println(r.stderr());
    r.assertExit(0);
  }
}
