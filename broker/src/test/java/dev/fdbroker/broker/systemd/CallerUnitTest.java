package dev.fdbroker.broker.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CallerUnitTest {
  @ParameterizedTest
  @CsvSource(delimiter = '|', nullValues = "NONE", value = {
      "0::/system.slice/render-worker@tenant1.service                    | render-worker@tenant1.service",
      "0::/system.slice/render-worker@tenant1.service/jobs/7             | render-worker@tenant1.service",
      "0::/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope | run-r1.scope",
      "0::/user.slice/user-1000.slice/user@1000.service/app.slice        | user@1000.service",
      "0::/                                                              | NONE",
      "0::/machine.slice                                                 | NONE",
      "0::/x/.service                                                    | NONE",
      "0::/system.slice/gone.service (deleted)                           | NONE",
      "1:name=systemd:/system.slice/v1-only.service                      | NONE",
  })
  void theUnitIsTheLastServiceOrScopeOfTheV2Path(String line, String unit) {
    assertEquals(unit, CallerUnit.unitOf("12:pids:/a.service\n" + line + "\n"));
  }
}
