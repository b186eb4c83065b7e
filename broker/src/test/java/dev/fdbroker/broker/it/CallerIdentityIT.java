package dev.fdbroker.broker.it;

import static dev.fdbroker.broker.it.ItSupport.NOBODY;
import static dev.fdbroker.broker.it.ItSupport.NOGROUP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fdbroker.broker.it.Identities.Cgroups;
import dev.fdbroker.broker.it.Identities.Id;
import dev.fdbroker.broker.it.Identities.User;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Who a caller is, as hosts make callers: real users and groups from the system's database,
 * supplementary groups set with setpriv, processes put in systemd-like cgroups before they connect,
 * and files owned by one user or another. Each test runs against two brokers with one policy: one
 * the test starts as root ("test"), and one as the installed unit runs it ("host": its own user,
 * only CAP_DAC_READ_SEARCH), where reading another user's /proc/PID/cgroup and checking that a
 * pidfd of another user's process is alive (pidfd_send_signal answers EPERM) must still work.
 *
 * <p>Every file is its owner's only (0600), so what a caller reads came through the broker.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CallerIdentityIT {
  private static final String UNIT_T1 = "system.slice/render-worker@tenant1.service";
  private static final String UNIT_T2 = "system.slice/render-worker@tenant2.service";

  private Path root;
  private Id render;
  private Id extra;
  private User alice;
  private User bob;
  private final Map<String, RunningBroker> brokers = new LinkedHashMap<>();
  private final Map<String, Path> audits = new LinkedHashMap<>();
  private final List<Path> hostDirs = new ArrayList<>();

  @BeforeAll
  void start() throws Exception {
    assumeTrue(ItSupport.isRoot(), "needs root: makes users, groups and cgroups, and drops to them with setpriv");
    assumeTrue(Identities.cgroupsWritable(), "needs a writable cgroup v2 hierarchy at " + Identities.CGROUP2);
    render = Identities.group("fdbit-render");
    extra = Identities.group("fdbit-extra");
    alice = Identities.user("fdbit-alice", "fdbit-render");
    bob = Identities.user("fdbit-bob");
    assertFalse(Identities.getent("group", "fdbit-render").endsWith("fdbit-bob"), "bob must not be in fdbit-render");

    root = ItSupport.worldReadableTempDir("fdbroker-ident-");
    Identities.ownerOnlyFiles(root, new TreeMap<>(Map.ofEntries(
        Map.entry("srv/render/a.txt", "render a"),
        Map.entry("srv/render/secret/s.txt", "render secret"),
        Map.entry("srv/shared/open.txt", "shared open"),
        Map.entry("srv/shared/render-excluded/x.txt", "render excluded"),
        Map.entry("srv/shared/audit-alice.txt", "audit alice"),
        Map.entry("srv/shared/audit-bob.txt", "audit bob"),
        Map.entry("srv/tenants/tenant1/f.txt", "tenant1"),
        Map.entry("srv/tenants/tenant2/f.txt", "tenant2"),
        Map.entry("home/fdbit-alice/public/a.txt", "alice public"),
        Map.entry("home/fdbit-alice/private.txt", "alice private"),
        Map.entry("home/fdbit-bob/public/b.txt", "bob public"),
        Map.entry("uid/" + alice.uid() + "/u.txt", "alice by uid"),
        Map.entry("uid/" + bob.uid() + "/u.txt", "bob by uid"),
        Map.entry("srv/subuid/s.txt", "subuid"),
        Map.entry("srv/drop/alice.txt", "alice owns this"),
        Map.entry("srv/drop/bob.txt", "bob owns this"))));
    Identities.chown(root.resolve("srv/drop/alice.txt"), alice.name());
    Identities.chown(root.resolve("srv/drop/bob.txt"), bob.name());
    ItSupport.installProbe(root);

    for (String shape : List.of("test", "host")) {
      Path logs = Files.createDirectories(root.resolve("log-" + shape));
      Identities.chown(logs, HostBroker.USER + ":" + HostBroker.USER);
      audits.put(shape, logs.resolve("audit.jsonl"));
      Path policy = Files.writeString(root.resolve("policy-" + shape + ".yaml"), policy(logs.resolve("audit.jsonl")));
      if (shape.equals("test")) {
        brokers.put(shape, BrokerProcess.start(policy, root.resolve("broker.sock")));
      } else {
        Path dir = ItSupport.worldReadableTempDir("fdbroker-ident-host-");
        hostDirs.add(dir);
        brokers.put(shape, HostBroker.start(dir, policy, HostBroker.Options.defaults()));
      }
    }
  }

  private String policy(Path audit) {
    return """
        audit: {output: AUDIT}
        limits: {requests_per_second_per_uid: 100000000}
        rules:
          - name: render-group
            groups: [fdbit-render]
            allow: ["ROOT/srv/render/**"]
            deny: ["ROOT/srv/render/secret/**"]
          - name: shared
            users: ["*"]
            allow: ["ROOT/srv/shared/**"]
          - name: render-excluded
            groups: [fdbit-render]
            deny: ["ROOT/srv/shared/render-excluded/**"]
          - name: tenants
            units: ["render-worker@*.service"]
            allow: ["ROOT/srv/tenants/${instance}/**"]
          - name: homes
            users: [fdbit-alice, fdbit-bob]
            allow: ["ROOT/home/${user}/public/**", "ROOT/uid/${uid}/**"]
          - name: subuids
            users: ["100000-165535"]
            allow: ["ROOT/srv/subuid/**"]
          - name: drop
            users: ["*"]
            owner: caller
            allow: ["ROOT/srv/drop/**"]
        """.replace("ROOT", root.toString()).replace("AUDIT", audit.toString());
  }

  @AfterAll
  void stop() throws Exception {
    for (RunningBroker b : brokers.values()) {
      b.close();
    }
    for (Path dir : hostDirs) {
      ItSupport.deleteTree(dir);
    }
    if (root != null) {
      ItSupport.deleteTree(root);
    }
  }

  private String p(String relative) {
    return root.resolve(relative).toString();
  }

  private List<String> ask(String shape, List<String> prefix, String... relative) throws Exception {
    List<String> paths = new ArrayList<>();
    for (String r : relative) {
      paths.add(p(r));
    }
    return Identities.answers(Identities.probe(root, brokers.get(shape).socket(), prefix, paths));
  }

  private static List<String> asWithInitGroups(User u) {
    return Identities.asWithInitGroups(u, List.of());
  }

  private static List<String> as(long uid, long gid, List<Long> groups) {
    return Identities.as(uid, gid, groups, List.of());
  }

  /**
   * Guards against a broker that only knows SO_PEERCRED's primary gid: alice is in fdbit-render only
   * as a supplementary group, and so is nobody when setpriv gives it the group. Both get the group's
   * tree and are bound by the group's denies, in the rule that allows and in a rule of its own; bob,
   * in no such group, is not bound by the deny and gets none of the group's tree.
   */
  @ParameterizedTest
  @ValueSource(strings = {"test", "host"})
  void aSupplementaryMemberGetsTheGroupsTreeAndIsBoundByItsDenies(String shape) throws Exception {
    String[] paths = {"srv/render/a.txt", "srv/render/secret/s.txt", "srv/shared/open.txt",
        "srv/shared/render-excluded/x.txt"};
    List<String> member = List.of("ok:render a", "denied", "ok:shared open", "denied");
    assertTrue(alice.gid() != render.id(), "fdbit-render must not be alice's primary group");
    assertEquals(member, ask(shape, asWithInitGroups(alice), paths), "alice, a member through the group database");
    assertEquals(member, ask(shape, as(NOBODY, NOGROUP, List.of(extra.id(), render.id())), paths),
        "nobody, given fdbit-render as a supplementary group");
    assertEquals(List.of("denied", "denied", "ok:shared open", "ok:render excluded"),
        ask(shape, asWithInitGroups(bob), paths), "bob, in no such group");
    assertEquals(List.of("denied", "denied", "ok:shared open", "ok:render excluded"),
        ask(shape, as(NOBODY, NOGROUP, List.of(extra.id())), paths), "nobody, in another group only");
    // The primary group still counts, as before.
    assertEquals(member, ask(shape, as(NOBODY, render.id(), List.of()), paths), "nobody, fdbit-render as primary");
  }

  /**
   * Guards against a unit read from anywhere but the connecting process's cgroup v2 path, against
   * a delegated sub-cgroup losing (or changing) its unit, and against a unit-less caller matching
   * a units rule: a caller in render-worker@tenant1.service, or in a cgroup below it, gets
   * tenant1's tree and not tenant2's; tenant2's caller the opposite; a caller in no unit neither.
   */
  @ParameterizedTest
  @ValueSource(strings = {"test", "host"})
  void aCallerGetsOnlyItsOwnUnitsInstanceTree(String shape) throws Exception {
    String[] paths = {"srv/tenants/tenant1/f.txt", "srv/tenants/tenant2/f.txt"};
    List<String> asNobody = as(NOBODY, NOGROUP, List.of());
    try (Cgroups cgroups = new Cgroups()) {
      Path t1 = cgroups.make(UNIT_T1);
      Path t1sub = cgroups.make(UNIT_T1 + "/sub");
      Path t2 = cgroups.make(UNIT_T2);
      Path noUnit = cgroups.make("fdbit-it.slice/worker");
      assertEquals(List.of("ok:tenant1", "denied"), ask(shape, Identities.inCgroup(t1, asNobody), paths), "tenant1");
      assertEquals(List.of("ok:tenant1", "denied"), ask(shape, Identities.inCgroup(t1sub, asNobody), paths),
          "a delegated sub-cgroup of tenant1's service");
      assertEquals(List.of("denied", "ok:tenant2"), ask(shape, Identities.inCgroup(t2, asNobody), paths), "tenant2");
      assertEquals(List.of("denied", "denied"), ask(shape, Identities.inCgroup(noUnit, asNobody), paths),
          "a cgroup that is no service or scope");
      assertEquals(List.of("denied", "denied"), ask(shape, asNobody, paths), "the root cgroup");
      // Root too: the units rule is not a matter of uid.
      assertEquals(List.of("ok:tenant1", "denied"), ask(shape, Identities.inCgroup(t1, List.of()), paths), "root in tenant1");
    }
  }

  /**
   * Guards against a unit a caller can name itself. Whoever may make cgroups below a unit's (a
   * service with Delegate=yes, such as a container runtime; every user, below its own user@UID.service,
   * through systemd --user or systemd-run --user) can give them any name, a unit's included. The
   * unit that holds a process is the first service or scope on its path, the one the system's
   * manager made (as systemd itself reads it): a sub-cgroup named render-worker@tenant2.service
   * below tenant1's service is still tenant1's, and a user's own render-worker@tenant2.service is
   * user@UID.service, which no units rule here names.
   */
  @ParameterizedTest
  @ValueSource(strings = {"test", "host"})
  void aSubCgroupNamedLikeAnotherUnitIsStillTheUnitAboveIt(String shape) throws Exception {
    String[] paths = {"srv/tenants/tenant1/f.txt", "srv/tenants/tenant2/f.txt"};
    List<String> asNobody = as(NOBODY, NOGROUP, List.of());
    try (Cgroups cgroups = new Cgroups()) {
      Path spoof = cgroups.make(UNIT_T1 + "/render-worker@tenant2.service");
      Path deeper = cgroups.make(UNIT_T1 + "/payload.slice/render-worker@tenant2.scope");
      Path userUnit = cgroups.make("user.slice/user-" + NOBODY + ".slice/user@" + NOBODY + ".service/app.slice/"
          + "render-worker@tenant2.service");
      assertEquals(List.of("ok:tenant1", "denied"), ask(shape, Identities.inCgroup(spoof, asNobody), paths),
          "tenant1's delegated sub-cgroup named as tenant2's service");
      assertEquals(List.of("ok:tenant1", "denied"), ask(shape, Identities.inCgroup(deeper, asNobody), paths),
          "tenant1's delegated sub-cgroup, deeper, named as a scope of tenant2's");
      assertEquals(List.of("denied", "denied"), ask(shape, Identities.inCgroup(userUnit, asNobody), paths),
          "a user's own unit named as tenant2's service");
    }
  }

  /**
   * Guards against ${user} and ${uid} standing for anything but the caller's own values: alice and
   * bob, under one rule, each get their own home's public tree and uid tree and not the other's,
   * nor anything beside the pattern.
   */
  @ParameterizedTest
  @ValueSource(strings = {"test", "host"})
  void userAndUidVariablesGiveEachUserOnlyTheirOwn(String shape) throws Exception {
    String[] paths = {"home/fdbit-alice/public/a.txt", "home/fdbit-bob/public/b.txt", "uid/" + alice.uid() + "/u.txt",
        "uid/" + bob.uid() + "/u.txt", "home/fdbit-alice/private.txt"};
    assertEquals(List.of("ok:alice public", "denied", "ok:alice by uid", "denied", "denied"),
        ask(shape, asWithInitGroups(alice), paths), "alice");
    assertEquals(List.of("denied", "ok:bob public", "denied", "ok:bob by uid", "denied"),
        ask(shape, asWithInitGroups(bob), paths), "bob");
    // A uid with no user has no ${user}: the pattern that needs it matches nothing for it.
    assertEquals(List.of("denied", "denied", "denied", "denied", "denied"),
        ask(shape, as(NOBODY, NOGROUP, List.of()), paths), "nobody, whom the rule does not name");
  }

  /**
   * Guards against an off-by-one at either end of a uid range, and against a range that needs the
   * uid to have a passwd entry (subordinate uids of containers have none).
   */
  @ParameterizedTest
  @ValueSource(strings = {"test", "host"})
  void aUidRangeHoldsExactlyItsUidsWhetherOrNotTheyHaveUsers(String shape) throws Exception {
    assertNull(Identities.getent("passwd", "100500"), "uid 100500 must have no user for this test");
    Map<Long, String> expected = new LinkedHashMap<>();
    expected.put(99_999L, "denied");
    expected.put(100_000L, "ok:subuid");
    expected.put(100_500L, "ok:subuid");
    expected.put(165_535L, "ok:subuid");
    expected.put(165_536L, "denied");
    Map<Long, String> actual = new LinkedHashMap<>();
    for (long uid : expected.keySet()) {
      actual.put(uid, ask(shape, as(uid, uid, List.of()), "srv/subuid/s.txt").get(0));
    }
    assertEquals(expected, actual);
  }

  /**
   * Guards against owner: caller being decided on anything but the file opened: each user gets the
   * file it owns in the shared tree, and the other's is answered denied.
   */
  @ParameterizedTest
  @ValueSource(strings = {"test", "host"})
  void ownerCallerGrantsOnlyWhatTheCallerOwns(String shape) throws Exception {
    String[] paths = {"srv/drop/alice.txt", "srv/drop/bob.txt"};
    assertEquals(List.of("ok:alice owns this", "denied"), ask(shape, asWithInitGroups(alice), paths), "alice");
    assertEquals(List.of("denied", "ok:bob owns this"), ask(shape, asWithInitGroups(bob), paths), "bob");
    assertEquals(List.of("denied", "denied"), ask(shape, as(NOBODY, NOGROUP, List.of()), paths), "nobody owns neither");
    JsonNode report = Identities.probe(root, brokers.get(shape).socket(), asWithInitGroups(alice), List.of(p(paths[1])));
    assertTrue(report.at("/replies/0/reply/files/0/message").asText().contains("owns"),
        "the refusal says why: " + report);
  }

  /**
   * Guards against an ownership check made on the path (a stat before the open, or after it): while
   * alice asks, again and again, for a name in the allowed tree, a swapper keeps exchanging that
   * name (renameat2 RENAME_EXCHANGE) between alice's file and bob's. Every descriptor alice gets
   * must be her own file; bob's is only ever refused.
   */
  @ParameterizedTest
  @ValueSource(strings = {"test", "host"})
  void aFileSwappedInByRenameAfterTheDecisionIsNeverSent(String shape) throws Exception {
    Path race = ItSupport.write(root.resolve("srv/drop/race-" + shape), "alice's\n", "rw-------");
    Path swap = ItSupport.write(root.resolve("srv/drop/race-" + shape + "-swap"), "bob's\n", "rw-------");
    Identities.chown(race, alice.name());
    Identities.chown(swap, bob.name());
    AtomicBoolean racing = new AtomicBoolean(true);
    AtomicLong swaps = new AtomicLong();
    Thread swapper = Thread.ofPlatform().start(() -> {
      while (racing.get()) {
        if (Exchange.swap(race, swap)) {
          swaps.incrementAndGet();
        }
      }
    });
    Map<String, Integer> outcomes = new TreeMap<>();
    try {
      List<Object> requests = new ArrayList<>();
      for (int i = 0; i < 3000; i++) {
        requests.add(Map.of("id", i, "op", "open", "paths", List.of(race.toString())));
      }
      Path requestFile = Files.writeString(root.resolve("race-requests-" + shape + ".json"),
          Fixture.JSON.writeValueAsString(requests));
      List<String> cmd = new ArrayList<>(asWithInitGroups(alice));
      cmd.addAll(List.of(ItSupport.python(), root.resolve("probe.py").toString(), brokers.get(shape).socket().toString(),
          "@" + requestFile));
      JsonNode report = Fixture.JSON.readTree(ItSupport.run(cmd, Duration.ofSeconds(300)).assertExit(0).stdout());
      for (JsonNode r : report.get("replies")) {
        JsonNode file = r.at("/reply/files/0");
        String outcome = file.get("ok").asBoolean()
            ? "ok:" + new String(Base64.getDecoder().decode(r.at("/fds/0/content_b64").asText()), StandardCharsets.UTF_8).trim()
            : file.get("error").asText();
        outcomes.merge(outcome, 1, Integer::sum);
      }
    } finally {
      racing.set(false);
      swapper.join();
    }
    System.out.printf("owner race (%s): %,d swaps, outcomes %s%n", shape, swaps.get(), outcomes);
    assertFalse(outcomes.containsKey("ok:bob's"), "bob's file was sent to alice: " + outcomes);
    assertEquals(java.util.Set.of("ok:alice's", "denied"), outcomes.keySet(),
        "both sides of the race were seen, and nothing else: " + outcomes);
  }

  /**
   * Guards against audit lines that leave out who the caller is: alice, given her groups out of
   * order and run in tenant1's unit, is logged with her name, her supplementary groups sorted and
   * the unit; bob, in no unit and no supplementary group, with his name, no groups and a null unit.
   */
  @ParameterizedTest
  @ValueSource(strings = {"test", "host"})
  void anAuditLineCarriesTheUserTheGroupsAndTheUnit(String shape) throws Exception {
    long low = Math.min(render.id(), extra.id());
    long high = Math.max(render.id(), extra.id());
    try (Cgroups cgroups = new Cgroups()) {
      Path t1 = cgroups.make(UNIT_T1);
      assertEquals(List.of("ok:audit alice", "ok:tenant1"), ask(shape,
          Identities.inCgroup(t1, as(alice.uid(), alice.gid(), List.of(high, low))),
          "srv/shared/audit-alice.txt", "srv/tenants/tenant1/f.txt"));
    }
    assertEquals(List.of("ok:audit bob"), ask(shape, as(bob.uid(), bob.gid(), List.of()), "srv/shared/audit-bob.txt"));

    JsonNode a = Identities.auditLinesFor(audits.get(shape), p("srv/shared/audit-alice.txt")).getLast();
    assertEquals(alice.uid(), a.get("uid").asLong(), a.toString());
    assertEquals("fdbit-alice", a.get("user").asText(), a.toString());
    assertEquals(alice.gid(), a.get("gid").asLong(), a.toString());
    assertEquals(List.of(low, high), longs(a.get("groups")), a.toString());
    assertEquals("render-worker@tenant1.service", a.get("unit").asText(), a.toString());
    assertEquals("allow", a.get("decision").asText(), a.toString());
    JsonNode t = Identities.auditLinesFor(audits.get(shape), p("srv/tenants/tenant1/f.txt")).getLast();
    assertEquals("tenants", t.get("rule").asText(), t.toString());

    JsonNode b = Identities.auditLinesFor(audits.get(shape), p("srv/shared/audit-bob.txt")).getLast();
    assertEquals("fdbit-bob", b.get("user").asText(), b.toString());
    assertEquals(List.of(), longs(b.get("groups")), b.toString());
    assertTrue(b.get("unit").isNull(), b.toString());
  }

  private static List<Long> longs(JsonNode array) {
    List<Long> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asLong()));
    return out;
  }
}
