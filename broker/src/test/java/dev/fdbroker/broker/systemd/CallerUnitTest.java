package dev.fdbroker.broker.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

/** Which unit a /proc/PID/cgroup text names (CallerIdentityIT tests it with real cgroups). */
class CallerUnitTest {

  @Test
  void theUnitIsTheFirstServiceOrScopeOnThePath() {
    assertEquals("render-worker@tenant1.service",
        CallerUnit.unitOf("0::/system.slice/render-worker@tenant1.service\n"));
    assertEquals("render-worker@tenant1.service",
        CallerUnit.unitOf("0::/system.slice/render-worker@tenant1.service/sub\n"));
    assertEquals("session-3.scope", CallerUnit.unitOf("0::/user.slice/user-1000.slice/session-3.scope\n"));
    assertEquals("init.scope", CallerUnit.unitOf("0::/init.scope\n"));
  }

  /**
   * Below a unit's cgroup the names are the unit's (Delegate=yes) or a user's (its own manager's
   * units, below user@UID.service): a name there must not make the process another unit's.
   */
  @Test
  void aNameBelowAUnitDoesNotMakeItAnotherUnit() {
    assertEquals("render-worker@tenant1.service",
        CallerUnit.unitOf("0::/system.slice/render-worker@tenant1.service/render-worker@tenant2.service\n"));
    assertEquals("render-worker@tenant1.service",
        CallerUnit.unitOf("0::/system.slice/render-worker@tenant1.service/payload.slice/x.scope\n"));
    assertEquals("user@1000.service", CallerUnit.unitOf(
        "0::/user.slice/user-1000.slice/user@1000.service/app.slice/render-worker@tenant2.service\n"));
  }

  @Test
  void noUnitWhereThePathHoldsNone() {
    assertNull(CallerUnit.unitOf("0::/\n"));
    assertNull(CallerUnit.unitOf("0::/fdbit.slice/worker\n"));
    assertNull(CallerUnit.unitOf("0::/system.slice/.service\n"));
    assertNull(CallerUnit.unitOf("0::/system.slice/gone.service (deleted)\n"));
    assertNull(CallerUnit.unitOf("12:pids:/system.slice/v1-only.service\n"));
  }
}
