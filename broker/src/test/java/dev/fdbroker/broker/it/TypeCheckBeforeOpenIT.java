package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fdbroker.client.BrokerFileException;
import dev.fdbroker.client.BrokeredFile;
import dev.fdbroker.client.FdBrokerClient;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * A FIFO, a device or a directory under an allowed name is refused as {@code not_regular} without
 * ever being opened for reading, because opening one can have side effects: a FIFO's open releases
 * a writer waiting for a reader, a device's open runs its driver. Shown from outside the broker,
 * with each opener: a writer blocked on the FIFO stays blocked, and inotify, which reports every
 * open that reaches a file (an {@code O_PATH} open does not), sees none from the broker. The check
 * is race-free (a FIFO swapped in under a granted name is never opened), and where it cannot be
 * made (no /proc to reopen through), the broker does not start.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TypeCheckBeforeOpenIT {
  /** Blocks in open(2) until a reader opens the FIFO, then says so and exits. */
  private static final String FIFO_WRITER = """
      import os, sys
      os.open(sys.argv[1], os.O_WRONLY)
      print("released", flush=True)
      """;
  /** Opens the file for reading without blocking (a FIFO with no writer included) and closes it. */
  private static final String OPEN_AND_CLOSE = "import os, sys; os.close(os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK))";

  private static final String UNLIMITED = "{requests_per_second_per_uid: 100000000}";
  private static final int RACE_REQUESTS = 10_000;

  private final Map<String, Fixture> brokers = new LinkedHashMap<>();

  @BeforeAll
  void startBrokers() throws Exception {
    // No rate limit to speak of: the race sends requests as fast as the broker answers.
    brokers.put("openat2", Fixture.start(UNLIMITED));
    brokers.put("walk", Fixture.start(UNLIMITED, "-Dfdbroker.opener=walk"));
    for (Map.Entry<String, Fixture> e : brokers.entrySet()) {
      assertTrue(e.getValue().broker.log().contains("opener " + e.getKey()), e.getValue().broker.log());
    }
  }

  @AfterAll
  void stopBrokers() throws Exception {
    for (Fixture f : brokers.values()) {
      f.close();
    }
  }

  /** Asks for one path as this test's own user (the fixture's test-runner rule allows the tree). */
  private static JsonNode openThroughBroker(Fixture f, Path path) throws Exception {
    try (RawClient c = new RawClient(f.socket)) {
      JsonNode reply = c.request("{\"id\":1,\"op\":\"open\",\"paths\":[" + Fixture.JSON.writeValueAsString(path.toString()) + "]}");
      assertEquals(0, c.lastDescriptors.length, reply.toString());
      return reply.at("/files/0");
    }
  }

  private static ItSupport.Result openAndClose(Path path) throws Exception {
    return ItSupport.run(List.of(ItSupport.python(), "-c", OPEN_AND_CLOSE, path.toString()), Duration.ofSeconds(30));
  }

  @ParameterizedTest
  @ValueSource(strings = {"openat2", "walk"})
  void refusingAFifoDoesNotReleaseAWriterWaitingForAReader(String opener) throws Exception {
    Fixture f = brokers.get(opener);
    Path fifo = f.allowed.resolve("fifo");
    Process writer = fifoWriter(fifo);
    try {
      JsonNode file = openThroughBroker(f, fifo);
      assertEquals("not_regular", file.path("error").asText(), file.toString());
      // Any open for reading, even a non-blocking one, would have let the writer's open return.
      assertFalse(writer.waitFor(2, TimeUnit.SECONDS),
          () -> "the broker opened the FIFO for reading: the waiting writer was released and printed "
              + output(writer));

      // And the writer was indeed waiting for a reader: ours releases it.
      openAndClose(fifo).assertExit(0);
      assertTrue(writer.waitFor(10, TimeUnit.SECONDS), "an open for reading did not release the writer");
      assertEquals("released", output(writer));
    } finally {
      writer.destroyForcibly().waitFor();
    }
  }

  /**
   * The race a check-by-name-then-open-by-name design would lose: while requests for a regular file
   * run, its name is swapped (renameat2 RENAME_EXCHANGE) with a FIFO's, on which a writer waits.
   * Whatever the name meant when it was pinned is what is checked, and what is opened: the file,
   * or a refusal; the FIFO is never opened, so the writer waits on.
   */
  @ParameterizedTest
  @ValueSource(strings = {"openat2", "walk"})
  void swappingAFileForAFifoMidRequestNeverOpensTheFifo(String opener) throws Exception {
    Fixture f = brokers.get(opener);
    Path file = Files.writeString(f.allowed.resolve("race-file"), "public");
    Path fifo = f.allowed.resolve("race-fifo");
    ItSupport.mkfifo(fifo);
    long fileInode = (Long) Files.getAttribute(file, "unix:ino");
    Process writer = fifoWriter(fifo); // waits on the FIFO itself, whatever its name becomes
    try {
      AtomicBoolean racing = new AtomicBoolean(true);
      AtomicLong swaps = new AtomicLong();
      Thread swapper = Thread.ofPlatform().start(() -> {
        while (racing.get()) {
          if (Exchange.swap(file, fifo)) {
            swaps.incrementAndGet();
          }
        }
      });
      Map<String, Integer> outcomes = new TreeMap<>();
      try (FdBrokerClient client = FdBrokerClient.connect(f.socket)) {
        for (int i = 0; i < RACE_REQUESTS; i++) {
          String outcome;
          try (BrokeredFile granted = client.open(file.toString())) {
            long ino = (Long) Files.getAttribute(Path.of("/proc/self/fd/" + fd(granted)), "unix:ino");
            outcome = ino == fileInode ? "granted the file" : "granted inode " + ino;
          } catch (BrokerFileException e) {
            outcome = e.code().wireName();
          } catch (FileSystemException e) { // not_found and denied, as java.nio says them
            outcome = e.toString();
          }
          outcomes.merge(outcome, 1, Integer::sum);
        }
      } finally {
        racing.set(false);
        swapper.join();
      }
      System.out.printf("FIFO swap race (%s): %,d requests, %,d swaps, outcomes %s%n", opener, RACE_REQUESTS, swaps.get(),
          outcomes);
      assertTrue(swaps.get() > 1000, "the race really raced: " + swaps.get() + " swaps");
      assertEquals(Set.of("granted the file", "not_regular"), outcomes.keySet(), "both sides seen, nothing else");
      assertTrue(writer.isAlive(), () -> "the FIFO was opened: its writer was released and printed " + output(writer));
    } finally {
      writer.destroyForcibly().waitFor();
    }
  }

  /**
   * The production shape: the broker as an unprivileged user with CAP_DAC_READ_SEARCH alone, as
   * the packaged unit runs it, and once without even that. The pin needs no permission to read, so
   * a FIFO is refused on its type either way, its writer left waiting; the reopen is where read
   * permission is checked: the capability grants a root-only file, its absence denies it (EACCES).
   */
  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void asAnUnprivilegedUserTheReopenIsWhereReadPermissionIsChecked(boolean capability) throws Exception {
    assumeTrue(ItSupport.isRoot(), "needs root: the broker drops to nobody with setpriv");
    Fixture f = brokers.get("openat2");
    Path run = Files.createDirectories(f.root.resolve(capability ? "run-cap" : "run-nocap"));
    ItSupport.run(List.of("chown", "nobody", run.toString()), Duration.ofSeconds(10)).assertExit(0);
    String caps = capability ? "-all,+dac_read_search" : "-all";
    List<String> asNobody = List.of("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
        "--inh-caps=" + caps, "--ambient-caps=" + caps, "--bounding-set=" + caps, "--no-new-privs", "--");
    Path fifo = f.allowed.resolve("fifo");
    Process writer = fifoWriter(fifo);
    try (BrokerProcess broker = BrokerProcess.start(f.policy, run.resolve("broker.sock"), Map.of(), asNobody);
        RawClient c = new RawClient(broker.socket())) {
      JsonNode reply = c.request("{\"id\":1,\"op\":\"open\",\"paths\":["
          + Fixture.JSON.writeValueAsString(f.secret.toString()) + "," + Fixture.JSON.writeValueAsString(fifo.toString()) + "]}");
      JsonNode secret = reply.at("/files/0");
      if (capability) {
        assertTrue(secret.path("ok").asBoolean(), reply.toString());
        assertEquals(1, c.lastDescriptors.length);
        try (FileInputStream in = new FileInputStream(c.lastDescriptors[0])) {
          assertEquals(Fixture.SECRET, new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        c.lastDescriptors = new FileDescriptor[0];
      } else {
        assertEquals("denied", secret.path("error").asText(), reply.toString());
        assertTrue(secret.path("message").asText().contains("EACCES"), reply.toString());
      }
      assertEquals("not_regular", reply.at("/files/1/error").asText(), reply.toString());
      assertFalse(writer.waitFor(1, TimeUnit.SECONDS), () -> "the FIFO was opened: its writer printed " + output(writer));
    } finally {
      writer.destroyForcibly().waitFor();
    }
  }

  /**
   * Every granted file is reopened through /proc/self/fd; where that does not work, the broker
   * says so and does not start, rather than fail every request (or fall back to opening by name
   * before the type is known).
   */
  @Test
  void withoutAWorkingProcSelfFdTheBrokerRefusesToStart() throws Exception {
    assumeTrue(ItSupport.isRoot(), "a mount namespace needs root");
    assumeTrue(ItSupport.run(List.of("unshare", "--mount", "true"), Duration.ofSeconds(10)).exit() == 0,
        "unshare --mount is not permitted here");
    Fixture f = brokers.get("openat2");
    Path socket = f.root.resolve("run/no-proc.sock");
    // In a mount namespace of its own, the broker's /proc/self/fd (the shell's, which it replaces) is an empty tmpfs.
    String shell = "mount -t tmpfs none /proc/$$/fd || exit 99; exec \"$@\"";
    ItSupport.Result r = ItSupport.run(List.of("unshare", "--mount", "--propagation", "private", "sh", "-c", shell, "sh",
        ItSupport.java(), "-jar", ItSupport.brokerJar().toString(), "serve", "--config", f.policy.toString(),
        "--socket", socket.toString()), Duration.ofSeconds(60));
    assumeTrue(r.exit() != 99, "cannot mount over /proc/PID/fd here: " + r.stderr());
    String output = r.stdout() + r.stderr();
    assertEquals(1, r.exit(), output);
    assertTrue(output.contains("cannot reopen a file through /proc/self/fd (ENOENT)") && output.contains("needs /proc mounted"),
        output);
    assertFalse(Files.exists(socket), "the broker must not have taken its socket");
  }

  private static int fd(BrokeredFile f) throws IOException {
    return FileDescriptorCast.using(f.fileDescriptor()).as(Integer.class);
  }

  /** A process blocked in open(2) for writing on {@code fifo}, waiting for a reader. */
  private static Process fifoWriter(Path fifo) throws Exception {
    Process writer = new ProcessBuilder(ItSupport.python(), "-c", FIFO_WRITER, fifo.toString())
        .redirectErrorStream(true).start();
    try {
      awaitBlockedInFifoOpen(writer);
      return writer;
    } catch (Exception | Error e) {
      writer.destroyForcibly();
      throw e;
    }
  }

  /** All a process printed; only once it has ended (until then, reading would wait). */
  private static String output(Process ended) {
    try {
      return new String(ended.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }

  /** Until the writer sleeps in the kernel's FIFO open, waiting for a reader (its wait channel says so). */
  private static void awaitBlockedInFifoOpen(Process writer) throws Exception {
    Path wchan = Path.of("/proc", Long.toString(writer.pid()), "wchan");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    String where = "";
    while (System.nanoTime() < deadline && writer.isAlive()) {
      where = Files.readString(wchan).trim();
      if (where.equals("wait_for_partner")) {
        return;
      }
      Thread.sleep(10);
    }
    throw new AssertionError("the writer never blocked in the FIFO's open (alive " + writer.isAlive()
        + ", wait channel " + where + ")");
  }

  @ParameterizedTest(name = "{0}: {1}")
  @CsvSource({"openat2, fifo", "openat2, device", "openat2, dir", "walk, fifo", "walk, device", "walk, dir"})
  void refusingAFifoADeviceOrADirectoryOpensNothingThatInotifyCanSee(String opener, String name) throws Exception {
    Fixture f = brokers.get(opener);
    Path path = f.allowed.resolve(name);
    if (name.equals("device")) {
      // A copy of /dev/null (char 1:3): opening it has no side effect but the open itself.
      assumeTrue(ItSupport.isRoot(), "mknod needs root");
      ItSupport.run(List.of("mknod", "-m", "666", path.toString(), "c", "1", "3"), Duration.ofSeconds(10)).assertExit(0);
    }
    Process watcher = new ProcessBuilder(ItSupport.python(),
        ItSupport.property("fdbroker.test.python").resolve("inotify_watch.py").toString(), path.toString())
        .redirectErrorStream(true).start();
    try (BufferedReader events = new BufferedReader(new InputStreamReader(watcher.getInputStream(), StandardCharsets.UTF_8))) {
      assertEquals("ready", events.readLine());
      // Our own open first: it shows that an open of this file is seen (one OPEN, one CLOSE_NOWRITE).
      ItSupport.Result ours = openAndClose(path);
      assumeTrue(ours.exit() == 0, "cannot open " + name + " here (a nodev mount?): " + ours.stderr());

      JsonNode file = openThroughBroker(f, path);
      assertEquals("not_regular", file.path("error").asText(), file.toString());

      // The marker: events are queued in order, so whatever the broker did comes before it.
      Files.setPosixFilePermissions(path, Files.getPosixFilePermissions(path));
      assertTrue(watcher.waitFor(30, TimeUnit.SECONDS), "the watcher saw no marker");
      assertEquals(List.of("OPEN", "CLOSE_NOWRITE", "ATTRIB"), events.lines().toList(),
          "inotify events on the " + name + ": ours, then the broker's (there must be none), then the marker");
    } finally {
      watcher.destroyForcibly().waitFor();
    }
  }
}
