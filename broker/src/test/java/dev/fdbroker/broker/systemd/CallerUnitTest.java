package dev.fdbroker.broker.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CallerUnitTest {
  /**
   * A delegated sub-cgroup is its unit's whatever it is called: a worker that may make cgroups in
   * its own tree must not pass as the unit it names one after.
   */
  @ParameterizedTest
  @CsvSource(delimiter = '|', nullValues = "NONE", value = {
      "0::/system.slice/render-worker@tenant1.service                    | render-worker@tenant1.service",
      "0::/system.slice/render-worker@tenant1.service/jobs/7             | render-worker@tenant1.service",
      "0::/system.slice/render-worker@tenant1.service/render-worker@tenant2.service | render-worker@tenant1.service",
      "0::/system.slice/a.service/b.slice/c.scope                        | a.service",
      "0::/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope | user@1000.service",
      "0::/user.slice/user-1000.slice/session-3.scope                    | session-3.scope",
      "0::/machine.slice/machine-c1.scope/payload/system.slice/x.service | machine-c1.scope",
      "0::/init.scope                                                    | init.scope",
      "0::/handmade/x.service                                            | NONE",
      "0::/                                                              | NONE",
      "0::/machine.slice                                                 | NONE",
      "0::/x/.service                                                    | NONE",
      "0::/system.slice/gone.service (deleted)                           | NONE",
      "1:name=systemd:/system.slice/v1-only.service                      | NONE",
  })
  void theUnitIsTheFirstComponentBelowTheSlicesAsSystemdNamesIt(String line, String unit) {
    assertEquals(unit, CallerUnit.unitOf("12:pids:/a.service\n" + line + "\n"));
  }

  /** Here (Linux 6.18, root, a cgroup v2 mount) units can be read: the start-up probe says nothing. */
  @org.junit.jupiter.api.Test
  void theProbeFindsUnitsReadableHere() {
    org.junit.jupiter.api.Assumptions.assumeFalse(CallerUnit.kernelBefore(6, 13), "needs PIDFD_GET_INFO");
    assertEquals(null, CallerUnit.problem());
  }

  @org.junit.jupiter.api.Test
  void aKernelBefore65IsToldToHaveNoPeerPidfd() {
    String real = System.getProperty("os.version");
    try {
      System.setProperty("os.version", "6.1.0-18-amd64");
      assertEquals(true, CallerUnit.kernelBefore(6, 5));
      assertEquals(true, CallerUnit.problem().contains("has no SO_PEERPIDFD"));
      System.setProperty("os.version", "6.12.9");
      assertEquals(false, CallerUnit.kernelBefore(6, 5));
      assertEquals(true, CallerUnit.kernelBefore(6, 13));
    } finally {
      System.setProperty("os.version", real);
    }
  }

  /**
   * A path that is not plainly below the hierarchy's root cannot be told, and is never "no unit"
   * (which would free the caller from every unit's deny): a broker in another cgroup namespace
   * sees callers as /../x, and a cgroup removed meanwhile reads "(deleted)".
   */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"/../evil.service", "/../../system.slice/x.service",
      "/system.slice/./x.service", "system.slice/x.service", "/system.slice/x.service (deleted)", "/evil.service (deleted)"})
  void anOddPathIsUnknownNeverNoUnit(String path) {
    org.junit.jupiter.api.Assertions.assertInstanceOf(CallerUnit.Found.Unknown.class, CallerUnit.classify(path));
  }

  @org.junit.jupiter.api.Test
  void plainPathsAreAUnitOrNone() {
    assertEquals(new CallerUnit.Found.Unit("x.service"), CallerUnit.classify("/system.slice/x.service/sub"));
    assertEquals(new CallerUnit.Found.NoUnit(), CallerUnit.classify("/"));
    assertEquals(new CallerUnit.Found.NoUnit(), CallerUnit.classify("/handmade/x.service"));
  }
}
