package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.fdbroker.client.BrokerFileException;
import dev.fdbroker.client.BrokerInfo;
import dev.fdbroker.client.BrokerRefusedException;
import dev.fdbroker.client.BrokerUnavailableException;
import dev.fdbroker.client.BrokeredFile;
import dev.fdbroker.client.FdBrokerClient;
import dev.fdbroker.client.OpenBatch;
import dev.fdbroker.client.OpenResult;
import dev.fdbroker.protocol.ErrorCode;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.NonWritableChannelException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** client-lib against the real broker: the API a Java worker uses. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClientLibIT {
  private Fixture f;
  private String pub;

  @BeforeAll
  void start() throws Exception {
    // A short idle timeout, so that reconnecting a pooled connection can be seen.
    f = Fixture.start("{idle_timeout_seconds: 0.5}");
    pub = f.allowed + "/public.txt";
  }

  @AfterAll
  void stop() throws Exception {
    if (f != null) {
      f.close();
    }
  }

  @Test
  void opensAFileAsAReadOnlyChannelAndStream() throws Exception {
    try (FdBrokerClient client = FdBrokerClient.connect(f.socket);
        BrokeredFile file = client.open(f.secret.toString())) {
      assertEquals(f.secret.toString(), file.path());
      assertEquals(Fixture.SECRET.length(), file.size());
      ByteBuffer head = ByteBuffer.allocate(7);
      file.channel().read(head, 4);
      assertEquals(Fixture.SECRET.substring(4, 11), new String(head.array(), StandardCharsets.UTF_8));
      assertEquals(Fixture.SECRET, new String(file.readAllBytes(), StandardCharsets.UTF_8));
      assertThrows(NonWritableChannelException.class, () -> file.channel().write(ByteBuffer.wrap(new byte[1])));
    }
  }

  /**
   * A granted file comes with its modification time (to the nanosecond) and permission bits, as
   * the broker saw them when it opened the file: Java has no fstat of a descriptor to learn them.
   */
  @Test
  void aGrantedFileSaysWhenItWasModifiedAndItsMode() throws Exception {
    java.nio.file.Files.setLastModifiedTime(f.secret,
        java.nio.file.attribute.FileTime.from(java.time.Instant.parse("2026-11-26T12:00:45.123456789Z")));
    try (FdBrokerClient client = FdBrokerClient.connect(f.socket);
        BrokeredFile secret = client.open(f.secret.toString());
        BrokeredFile pub = client.open(f.allowed + "/public.txt")) {
      assertEquals(java.time.Instant.parse("2026-11-26T12:00:45.123456789Z"), secret.lastModified().orElseThrow().toInstant());
      assertEquals(0600, secret.mode(), "rw-------");
      assertEquals(0644, pub.mode(), "rw-r--r--");
      assertEquals(java.nio.file.Files.getLastModifiedTime(java.nio.file.Path.of(pub.path())), pub.lastModified().orElseThrow());
    }
  }

  @Test
  void refusalsAreTheJavaNioExceptionsAJavaUserExpects() throws Exception {
    try (FdBrokerClient client = FdBrokerClient.connect(f.socket)) {
      AccessDeniedException denied = assertThrows(AccessDeniedException.class, () -> client.open(f.outsideSecret.toString()));
      assertEquals(f.outsideSecret.toString(), denied.getFile());
      assertEquals("not allowed by policy", denied.getReason());
      assertThrows(NoSuchFileException.class, () -> client.open(f.allowed + "/missing"));
      BrokerFileException link = assertThrows(BrokerFileException.class, () -> client.open(f.allowed + "/link-to-outside"));
      assertEquals(ErrorCode.SYMLINK, link.code());
      assertEquals(ErrorCode.NOT_REGULAR, assertThrows(BrokerFileException.class, () -> client.open(f.allowed + "/fifo")).code());
      assertEquals(ErrorCode.BAD_REQUEST, assertThrows(BrokerFileException.class, () -> client.open(f.allowed + "/../x")).code());
      // A refusal leaves the client usable.
      try (BrokeredFile ok = client.open(Path.of(pub))) {
        assertEquals("public\n", new String(ok.readAllBytes(), StandardCharsets.UTF_8));
      }
    }
  }

  @Test
  void openAllKeepsOrderAndSplitsBatchesLargerThanOneReplyCanCarry() throws Exception {
    List<String> paths = new ArrayList<>();
    for (int i = 0; i < 130; i++) {
      paths.add(i % 10 == 3 ? f.outsideSecret.toString() : pub);
    }
    try (FdBrokerClient client = FdBrokerClient.connect(f.socket); OpenBatch batch = client.openAll(paths)) {
      assertEquals(130, batch.size());
      for (int i = 0; i < 130; i++) {
        OpenResult r = batch.get(i);
        if (i % 10 == 3) {
          assertInstanceOf(OpenResult.Refused.class, r);
          assertEquals(ErrorCode.DENIED, ((OpenResult.Refused) r).code());
          assertThrows(AccessDeniedException.class, r::file);
        } else {
          assertEquals("public\n", new String(r.file().readAllBytes(), StandardCharsets.UTF_8));
        }
      }
    }
  }

  @Test
  void filesStayOpenAfterTheClientIsClosed() throws Exception {
    BrokeredFile file;
    try (FdBrokerClient client = FdBrokerClient.connect(f.socket)) {
      file = client.open(pub);
    }
    try (file) {
      assertEquals("public\n", new String(file.readAllBytes(), StandardCharsets.UTF_8));
    }
  }

  @Test
  void reconnectsWhenThePooledConnectionHasTimedOut() throws Exception {
    try (FdBrokerClient client = FdBrokerClient.connect(f.socket)) {
      client.open(pub).close();
      Thread.sleep(1200); // the broker's idle timeout (0.5 s) closes the pooled connection
      try (BrokeredFile again = client.open(pub)) {
        assertEquals(7, again.size());
      }
    }
  }

  @Test
  void oneClientIsSafeToShareBetweenThreads() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try (FdBrokerClient client = FdBrokerClient.builder(f.socket).maxConnections(3).build()) {
      List<Future<Integer>> results = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        results.add(pool.submit(() -> {
          int ok = 0;
          for (int i = 0; i < 100; i++) {
            try (BrokeredFile file = client.open(f.secret.toString())) {
              ok += new String(file.readAllBytes(), StandardCharsets.UTF_8).equals(Fixture.SECRET) ? 1 : 0;
            }
          }
          return ok;
        }));
      }
      for (Future<Integer> r : results) {
        assertEquals(100, r.get());
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * A broker restart while requests run (without a supervisor holding the socket: the old broker
   * removes its socket, and for a second nobody listens) costs the callers a wait, never a failure.
   */
  @Test
  void requestsSurviveABrokerRestart() throws Exception {
    try (Fixture g = Fixture.start("");
        FdBrokerClient client = FdBrokerClient.builder(g.socket).requestTimeout(Duration.ofSeconds(20)).build()) {
      String file = g.allowed + "/public.txt";
      AtomicInteger served = new AtomicInteger();
      AtomicInteger waited = new AtomicInteger(); // requests that rode out the restart
      AtomicInteger failed = new AtomicInteger();
      ConcurrentLinkedQueue<IOException> failures = new ConcurrentLinkedQueue<>();
      AtomicBoolean running = new AtomicBoolean(true);
      List<Thread> workers = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        workers.add(Thread.ofPlatform().start(() -> {
          while (running.get()) {
            long start = System.nanoTime();
            try (BrokeredFile f = client.open(file)) {
              if (!"public\n".equals(new String(f.readAllBytes(), StandardCharsets.UTF_8))) {
                throw new IOException("wrong content");
              }
              served.incrementAndGet();
              if (System.nanoTime() - start > Duration.ofMillis(500).toNanos()) {
                waited.incrementAndGet();
              }
            } catch (IOException e) {
              failed.incrementAndGet();
              failures.add(e);
            }
          }
        }));
      }
      ItSupport.awaitMore(served, 1000);
      g.broker.close(); // SIGTERM: in-flight requests are answered, then the socket goes away
      Thread.sleep(1000);
      g.broker = BrokerProcess.start(g.policy, g.socket);
      ItSupport.awaitMore(served, 1000);
      running.set(false);
      for (Thread w : workers) {
        w.join(30_000);
      }
      int total = served.get() + failed.get();
      System.out.printf("requestsSurviveABrokerRestart: %d of %d requests failed, %d waited through the restart%n",
          failed.get(), total, waited.get());
      assertEquals(0, failed.get(), failed.get() + " of " + total + " requests failed, first: " + failures.peek());
      // The broker was away for over a second, and the workers kept asking.
      assertTrue(waited.get() > 0, "no request waited for the new broker");
    }
  }

  @Test
  void pingSaysWhoTheBrokerIs() throws Exception {
    try (FdBrokerClient client = FdBrokerClient.connect(f.socket)) {
      BrokerInfo info = client.ping();
      assertEquals(1, info.protocolVersion());
      assertEquals(64, info.maxPaths());
      assertTrue(info.version().matches("\\d+\\.\\d+\\.\\d+.*"), info.version());
    }
  }

  @Test
  void aMissingBrokerIsUnavailableOnceTheRequestTimeoutHasPassed() {
    Path nowhere = f.root.resolve("run/nothing-here.sock");
    BrokerUnavailableException e = assertThrows(BrokerUnavailableException.class,
        () -> FdBrokerClient.builder(nowhere).requestTimeout(Duration.ofSeconds(1)).connect());
    assertTrue(e.getMessage().contains(nowhere.toString()), e.getMessage());
    assertTrue(e.getMessage().matches(".* is unavailable \\(\\d+ tries in \\d+ ms\\): .*"), e.getMessage());
  }

  @Test
  void aSocketWeMayNotUseFailsAtOnce() throws Exception {
    assumeTrue(ItSupport.isRoot(), "needs root to drop to nobody");
    Path closed = f.root.resolve("run/root-only.sock");
    try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(closed), true)) {
      Files.setPosixFilePermissions(closed, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
      ItSupport.Result r = ItSupport.run(ItSupport.asUser(ItSupport.NOBODY, ItSupport.NOGROUP,
          List.of(ItSupport.java(), "-jar", fdcatForNobody().toString(), "--socket", closed.toString(), pub)),
          Duration.ofSeconds(60), java.util.Map.of("HOME", "/tmp"), f.root);
      r.assertExit(2);
      // One try: the socket's mode would be the same after a restart, so retrying would only delay this.
      assertTrue(r.stderr().contains(closed + " is unavailable: "), r.stderr());
    }
  }

  @Test
  void aBrokerThatNeverAnswersTimesOut() throws Exception {
    Path silent = f.root.resolve("run/silent.sock");
    try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(silent), true)) {
      Thread acceptor = Thread.ofVirtual().start(() -> {
        List<Object> held = new ArrayList<>();
        try {
          while (true) {
            held.add(server.accept()); // accept and say nothing
          }
        } catch (IOException closed) {
          // test over
        }
      });
      FdBrokerClient client = FdBrokerClient.builder(silent).requestTimeout(Duration.ofMillis(300)).build();
      long start = System.nanoTime();
      assertThrows(SocketTimeoutException.class, () -> client.open(pub));
      assertTrue(Duration.ofNanos(System.nanoTime() - start).toMillis() < 5000);
      client.close();
      server.close();
      acceptor.join(5000);
    }
  }

  @Test
  void aFullBrokerSaysBusy() throws Exception {
    try (Fixture small = Fixture.start("{max_connections: 1}");
        RawClient first = admitted(small.socket)) {
      BrokerRefusedException busy = assertThrows(BrokerRefusedException.class,
          () -> FdBrokerClient.builder(small.socket).requestTimeout(Duration.ofSeconds(1)).connect());
      assertEquals(ErrorCode.BUSY, busy.code());
      assertTrue(busy.getMessage().matches(".*busy: .* \\(\\d+ tries in \\d+ ms\\)"), busy.getMessage());
      first.close();
      // Once the first client leaves, there is room again.
      long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (true) {
        try (FdBrokerClient c = FdBrokerClient.connect(small.socket)) {
          break;
        } catch (BrokerRefusedException stillBusy) {
          assertTrue(System.nanoTime() < deadline, "connection slot was not released");
          Thread.sleep(20);
        }
      }
    }
  }

  /** A connection the broker serves, once the slot of the start-up check's connection is free. */
  private static RawClient admitted(Path socket) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (true) {
      RawClient c = new RawClient(socket);
      if (c.request("{\"op\":\"ping\"}").get("ok").asBoolean()) {
        return c;
      }
      c.close();
      assertTrue(System.nanoTime() < deadline, "never admitted");
      Thread.sleep(20);
    }
  }

  @Test
  void fdcatRunsOnJava17() throws Exception {
    Path java17 = Path.of("/usr/lib/jvm/java-17-openjdk-amd64/bin/java");
    assumeTrue(Files.isExecutable(java17), "no Java 17 runtime here");
    ItSupport.Result r = ItSupport.run(List.of(java17.toString(), "-jar", ItSupport.fdcatJar().toString(),
        "--socket", f.socket.toString(), pub, f.outsideSecret.toString()), Duration.ofSeconds(60));
    r.assertExit(1);
    assertEquals("public\n", r.stdout());
    assertTrue(r.stderr().contains(f.outsideSecret + ": denied: not allowed by policy"), r.stderr());
  }

  @Test
  void fdcatAsAnUnprivilegedUserPrintsARootOnlyFile() throws Exception {
    assumeTrue(ItSupport.isRoot(), "needs root to drop to nobody");
    ItSupport.Result r = ItSupport.run(ItSupport.asUser(ItSupport.NOBODY, ItSupport.NOGROUP,
        List.of(ItSupport.java(), "-jar", fdcatForNobody().toString(), "--socket", f.socket.toString(), f.secret.toString())),
        Duration.ofSeconds(60), java.util.Map.of("HOME", "/tmp"), f.root);
    r.assertExit(0);
    assertArrayEquals(Fixture.SECRET.getBytes(StandardCharsets.UTF_8), r.stdout().getBytes(StandardCharsets.UTF_8));
  }

  /** fdcat.jar where nobody can read it, next to the probe. */
  private Path fdcatForNobody() throws IOException {
    Path jar = f.root.resolve("fdcat.jar");
    if (!Files.exists(jar)) {
      Files.copy(ItSupport.fdcatJar(), jar);
      Files.setPosixFilePermissions(jar, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    }
    return jar;
  }
}
