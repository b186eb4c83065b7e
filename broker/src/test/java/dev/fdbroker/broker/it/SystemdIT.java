package dev.fdbroker.broker.it;

import static dev.fdbroker.broker.it.NotifyListener.hasLine;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fdbroker.client.BrokeredFile;
import dev.fdbroker.client.FdBrokerClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The broker as systemd runs it, with systemd's own tools where they run here: the real
 * systemd-socket-activate hands it the listening socket; a real datagram NOTIFY_SOCKET hears its
 * sd_notify messages; signals drive reload and stop.
 */
class SystemdIT {
  private Path dir;
  private Path policy;
  private Path files;
  private Process broker;

  @BeforeEach
  void setUp() throws Exception {
    dir = ItSupport.worldReadableTempDir("fdbroker-systemd-");
    files = Files.createDirectories(dir.resolve("files"));
    Files.writeString(files.resolve("a.txt"), "a\n");
    Files.writeString(files.resolve("b.txt"), "b\n");
    policy = writePolicy("a.txt");
  }

  @AfterEach
  void tearDown() throws Exception {
    if (broker != null && broker.isAlive()) {
      broker.destroyForcibly().waitFor();
    }
    ItSupport.deleteTree(dir);
  }

  private Path writePolicy(String allowed) throws IOException {
    return Files.writeString(dir.resolve("policy.yaml"),
        "rules:\n  - name: test\n    users: [" + ItSupport.myUid() + "]\n    allow: [\"" + files + "/" + allowed + "\"]\n");
  }

  private Process start(List<String> prefix, List<String> args, NotifyListener notify, String... env) throws IOException {
    List<String> cmd = new ArrayList<>(prefix);
    cmd.addAll(List.of(ItSupport.java(), "-jar", ItSupport.brokerJar().toString(), "serve", "--config", policy.toString()));
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("broker.log").toFile());
    if (notify != null) {
      pb.environment().put("NOTIFY_SOCKET", notify.path.toString());
    }
    for (int i = 0; i < env.length; i += 2) {
      pb.environment().put(env[i], env[i + 1]);
    }
    broker = pb.start();
    return broker;
  }

  /**
   * The broker as the installed unit runs it (its user, capability and limits, on a socket held by
   * another process, as fdbroker.socket holds it), telling {@code notify} what it does.
   */
  private HostBroker onHost(NotifyListener notify, String... env) throws Exception {
    HostBroker.Options options = HostBroker.Options.defaults().withEnv("NOTIFY_SOCKET", notify.path.toString());
    for (int i = 0; i < env.length; i += 2) {
      options = options.withEnv(env[i], env[i + 1]);
    }
    return HostBroker.start(dir, policy, options);
  }

  private String log() throws IOException {
    return Files.readString(dir.resolve("broker.log"));
  }

  private void signal(String name) throws Exception {
    ItSupport.run(List.of("kill", "-" + name, Long.toString(broker.pid())), Duration.ofSeconds(10)).assertExit(0);
  }

  private static String read(FdBrokerClient client, Path file) throws IOException {
    try (BrokeredFile f = client.open(file.toString())) {
      return new String(f.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void servesTheSocketThatSystemdSocketActivateHandsIt() throws Exception {
    Path sock = dir.resolve("activated.sock");
    try (NotifyListener notify = new NotifyListener(dir.resolve("notify"))) {
      // It hands the child only the environment it is told to (-E).
      start(List.of("systemd-socket-activate", "-l", sock.toString(), "-E", "NOTIFY_SOCKET"), List.of(), notify);
      // systemd-socket-activate listens first and starts the broker on the first connection.
      for (int i = 0; i < 100 && !Files.exists(sock); i++) {
        Thread.sleep(20);
      }
      try (FdBrokerClient client = FdBrokerClient.connect(sock)) {
        assertEquals("a\n", read(client, files.resolve("a.txt")));
      }
      notify.await(hasLine("READY=1"), Duration.ofSeconds(10));
      assertTrue(log().contains("serving the socket-activated socket"), log());
      signal("TERM");
      assertTrue(broker.waitFor(20, TimeUnit.SECONDS));
      assertEquals(0, broker.exitValue(), log());
      assertTrue(Files.exists(sock), "the socket belongs to the service manager and stays");
    }
  }

  @Test
  void refusesSocketsPassedToAnotherProcess() throws Exception {
    start(List.of(), List.of(), null, "LISTEN_FDS", "1", "LISTEN_PID", "1");
    assertTrue(broker.waitFor(30, TimeUnit.SECONDS));
    assertEquals(2, broker.exitValue());
    assertTrue(log().contains("LISTEN_PID is 1, not this process"), log());
  }

  @Test
  void notifiesReadyStatusWatchdogReloadAndStop() throws Exception {
    Path sock = dir.resolve("broker.sock");
    try (NotifyListener notify = new NotifyListener(dir.resolve("notify"))) {
      start(List.of(), List.of("--socket", sock.toString()), notify, "WATCHDOG_USEC", "400000");
      String ready = notify.await(hasLine("READY=1"), Duration.ofSeconds(30));
      assertTrue(ready.contains("STATUS=serving 0 connections"), ready);
      assertTrue(ready.contains("(1 rules, generation 1"), ready);
      notify.await(hasLine("WATCHDOG=1"), Duration.ofSeconds(2));
      notify.await(hasLine("WATCHDOG=1"), Duration.ofSeconds(2));

      try (FdBrokerClient client = FdBrokerClient.connect(sock)) {
        assertEquals("a\n", read(client, files.resolve("a.txt")));
        assertThrows(AccessDeniedException.class, () -> read(client, files.resolve("b.txt")));

        // A policy that does not load is rejected whole; the one in force keeps serving.
        Files.writeString(policy, "rules:\n  - name: broken\n    users: [no-such-user-here]\n    allow: [/x]\n");
        signal("HUP");
        String reloading = notify.await(hasLine("RELOADING=1"), Duration.ofSeconds(10));
        assertTrue(reloading.lines().anyMatch(l -> l.startsWith("MONOTONIC_USEC=")), reloading);
        String rejected = notify.await(hasLine("READY=1"), Duration.ofSeconds(10));
        assertTrue(rejected.contains("last reload rejected: " + policy + ":3:13: rules[0].users[0]: unknown user"), rejected);
        assertTrue(log().contains("policy reload rejected, the policy in force stays"), log());
        assertEquals("a\n", read(client, files.resolve("a.txt")));

        // A good one takes over, for the next request on the same connection.
        writePolicy("b.txt");
        signal("HUP");
        notify.await(hasLine("RELOADING=1"), Duration.ofSeconds(10));
        String reloaded = notify.await(hasLine("READY=1"), Duration.ofSeconds(10));
        assertTrue(reloaded.contains("generation 2") && !reloaded.contains("rejected"), reloaded);
        assertEquals("b\n", read(client, files.resolve("b.txt")));
        assertThrows(AccessDeniedException.class, () -> read(client, files.resolve("a.txt")));
      }

      signal("TERM");
      notify.await(hasLine("STOPPING=1"), Duration.ofSeconds(10));
      assertTrue(broker.waitFor(20, TimeUnit.SECONDS));
      assertEquals(0, broker.exitValue(), log());
      assertTrue(Files.notExists(sock), "a socket the broker bound itself is removed on stop");
    }
  }

  @Test
  void theUnitsBrokerNotifiesReadyWatchdogReloadAndStopAndLeavesTheHeldSocket() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(ItSupport.isRoot(), "runs the broker as the fdbroker user");
    try (NotifyListener notify = new NotifyListener(dir.resolve("notify"));
        HostBroker host = onHost(notify, "WATCHDOG_USEC", "400000")) {
      String ready = notify.await(hasLine("READY=1"), Duration.ofSeconds(30));
      assertTrue(ready.contains("STATUS=serving"), ready);
      notify.await(hasLine("WATCHDOG=1"), Duration.ofSeconds(2));
      notify.await(hasLine("WATCHDOG=1"), Duration.ofSeconds(2));
      try (FdBrokerClient client = FdBrokerClient.connect(host.socket())) {
        assertEquals("a\n", read(client, files.resolve("a.txt")));
        writePolicy("b.txt");
        host.signal("HUP");
        notify.await(hasLine("RELOADING=1"), Duration.ofSeconds(10));
        String reloaded = notify.await(hasLine("READY=1"), Duration.ofSeconds(10));
        assertTrue(reloaded.contains("generation 2"), reloaded);
        assertEquals("b\n", read(client, files.resolve("b.txt")));
      }
      long pid = host.pid();
      host.signal("TERM");
      notify.await(hasLine("STOPPING=1"), Duration.ofSeconds(10));
      assertEquals(0, host.awaitExit(pid, Duration.ofSeconds(30)), host.log());
      assertTrue(Files.exists(host.socket()), "the socket is the service manager's, and stays");
    }
  }

  @Test
  void stopLetsTheRequestInProgressFinishAndClosesIdleConnections() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(ItSupport.isRoot(), "runs the broker as the fdbroker user");
    Files.writeString(policy, Files.readString(policy).replace("rules:", "limits: {request_timeout_seconds: 20}\nrules:"));
    try (NotifyListener notify = new NotifyListener(dir.resolve("notify")); HostBroker host = onHost(notify)) {
      notify.await(hasLine("READY=1"), Duration.ofSeconds(30));
      // 60 files a request: a reply's worth of descriptors, so that the next reply waits until this one is read.
      String open = "{\"id\":%d,\"op\":\"open\",\"paths\":[" + ("\"" + files.resolve("a.txt") + "\",").repeat(59)
          + "\"" + files.resolve("a.txt") + "\"]}";
      long pid = host.pid();
      try (RawClient idle = new RawClient(host.socket()); RawClient busy = new RawClient(host.socket())) {
        assertTrue(idle.request("{\"op\":\"ping\"}").get("ok").asBoolean());
        // Two requests, no reading: the second is in progress, held until the first reply is read.
        busy.send(RawClient.frame(open.formatted(1))).send(RawClient.frame(open.formatted(2)));
        Thread.sleep(300);
        host.signal("TERM");
        notify.await(hasLine("STOPPING=1"), Duration.ofSeconds(10));
        assertTrue(idle.closedByBroker(), "an idle connection is closed at once");
        assertTrue(host.isAlive(), "a request is still in progress");
        JsonNode first = busy.reply();
        busy.closeDescriptors();
        JsonNode second = busy.reply();
        busy.closeDescriptors();
        assertEquals(1, first.get("id").asInt());
        assertEquals(2, second.get("id").asInt());
        assertTrue(second.at("/files/0/ok").asBoolean(), second.toString());
        assertTrue(busy.closedByBroker(), "after its request, the connection is closed too");
      }
      assertEquals(0, host.awaitExit(pid, Duration.ofSeconds(20)), host.log());
    }
  }

  @Test
  void aRequestInProgressDuringAReloadFinishesUnderTheOldPolicy() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(ItSupport.isRoot(), "runs the broker as the fdbroker user");
    try (NotifyListener notify = new NotifyListener(dir.resolve("notify")); HostBroker host = onHost(notify)) {
      notify.await(hasLine("READY=1"), Duration.ofSeconds(30));
      // 60 files a request: a reply's worth of descriptors, so that the next reply waits until this one is read.
      String open = "{\"id\":%d,\"op\":\"open\",\"paths\":[" + ("\"" + files.resolve("a.txt") + "\",").repeat(59)
          + "\"" + files.resolve("a.txt") + "\"]}";
      try (RawClient c = new RawClient(host.socket())) {
        // Request 2 is decided at once but its reply waits until we read reply 1: it is in progress.
        c.send(RawClient.frame(open.formatted(1))).send(RawClient.frame(open.formatted(2)));
        Thread.sleep(300);
        writePolicy("b.txt"); // a.txt no longer allowed
        host.signal("HUP");
        notify.await(m -> m.contains("READY=1") && m.contains("generation 2"), Duration.ofSeconds(10));
        assertTrue(c.reply().at("/files/0/ok").asBoolean());
        c.closeDescriptors();
        assertTrue(c.reply().at("/files/0/ok").asBoolean(), "decided under the policy in force when it arrived");
        c.closeDescriptors();
        assertEquals("denied", c.request(open.formatted(3)).at("/files/0/error").asText(), "the next request sees the new one");
      }
    }
  }

  @Test
  void bindsItsOwnSocketWithTheGivenModeAndGroup() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(ItSupport.isRoot(), "only root may give the socket to another group");
    Path sock = dir.resolve("grouped.sock");
    try (NotifyListener notify = new NotifyListener(dir.resolve("notify"))) {
      start(List.of(), List.of("--socket", sock.toString(), "--socket-mode", "0660", "--socket-group", "nogroup"), notify);
      notify.await(hasLine("READY=1"), Duration.ofSeconds(30));
      assertEquals("rw-rw----", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)));
      assertEquals("nogroup", Files.readAttributes(sock, java.nio.file.attribute.PosixFileAttributes.class).group().getName());
    }
  }
}
