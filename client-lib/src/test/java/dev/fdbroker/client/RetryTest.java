package dev.fdbroker.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.MalformedReplyException;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which failures the client tries again, and how: against a {@link FakeBroker} that misbehaves to
 * order, with a clock that moves only when the client pauses, so nothing here depends on timing.
 */
class RetryTest {
  @TempDir Path dir;

  private final BackoffTest.FakeClock clock = new BackoffTest.FakeClock();

  /**
   * The last try of a request gets at least 5 s (by the fake clock, so 5 real seconds of socket
   * timeout), so that a slow machine cannot turn a refusal into a timeout.
   */
  private FdBrokerClient client(Path socket, Duration requestTimeout) {
    return FdBrokerClient.builder(socket).requestTimeout(requestTimeout)
        .backoff(new Backoff(clock, () -> 0.0, TimeUnit.SECONDS.toNanos(5))).build();
  }

  private FdBrokerClient client(Path socket) {
    return client(socket, Duration.ofSeconds(30));
  }

  @Test
  void busyIsTriedAgainAfterGrowingPausesUntilTheBrokerHasRoom() throws Exception {
    Path socket = dir.resolve("b.sock");
    try (FakeBroker broker = new FakeBroker(socket, FakeBroker.refuses(ErrorCode.BUSY),
            FakeBroker.refuses(ErrorCode.BUSY), FakeBroker::pongs);
        FdBrokerClient client = client(socket)) {
      assertEquals("0.0.0-fake", client.ping().version());
      assertEquals(3, broker.connections());
      assertEquals(List.of(10L, 20L), clock.slept());
    }
  }

  @Test
  void busyUntilTheDeadlineFailsWithTheLastRefusalAndHowLongItTried() throws Exception {
    Path socket = dir.resolve("b.sock");
    try (FakeBroker broker = new FakeBroker(socket, FakeBroker.refuses(ErrorCode.BUSY));
        FdBrokerClient client = client(socket, Duration.ofSeconds(6))) {
      BrokerRefusedException e = assertThrows(BrokerRefusedException.class, client::ping);
      assertEquals(ErrorCode.BUSY, e.code());
      assertEquals("fdbroker refused the request: busy: refused by the fake broker (8 tries in 1000 ms)",
          e.getMessage());
      assertEquals(8, broker.connections());
    }
  }

  @Test
  void otherRefusalsAreNotRetried() throws Exception {
    for (ErrorCode code : new ErrorCode[] {ErrorCode.BAD_REQUEST, ErrorCode.TOO_LARGE}) {
      Path socket = dir.resolve(code.wireName() + ".sock");
      try (FakeBroker broker = new FakeBroker(socket, FakeBroker.refuses(code), FakeBroker::pongs);
          FdBrokerClient client = client(socket)) {
        assertEquals(code, assertThrows(BrokerRefusedException.class, client::ping).code());
        assertEquals(1, broker.connections());
      }
    }
    assertEquals(List.of(), clock.slept());
  }

  @Test
  void aReplyThatDoesNotDecodeIsNotRetriedAndItsDescriptorIsClosed() throws Exception {
    Path marker = Files.writeString(dir.resolve("marker.txt"), "m");
    Path socket = dir.resolve("b.sock");
    try (FakeBroker broker = new FakeBroker(socket, FakeBroker.garbles(marker), FakeBroker.grants(marker));
        FdBrokerClient client = client(socket)) {
      assertThrows(MalformedReplyException.class, () -> client.open("/x"));
      assertEquals(1, broker.connections());
      assertEquals(0, settledDescriptorsFor(marker, 0));
    }
    assertEquals(List.of(), clock.slept());
  }

  @Test
  void aFrameHeaderNoReplyCanHaveIsAMalformedReplyNotAnOutage() throws Exception {
    Path socket = dir.resolve("b.sock");
    try (FakeBroker broker = new FakeBroker(socket, FakeBroker::sendsAnEmptyFrame, FakeBroker::pongs);
        FdBrokerClient client = client(socket)) {
      assertThrows(MalformedReplyException.class, client::ping);
      assertEquals(1, broker.connections());
    }
  }

  @Test
  void aConnectionClosedBeforeTheReplyIsTriedAgain() throws Exception {
    Path socket = dir.resolve("b.sock");
    try (FakeBroker broker = new FakeBroker(socket, FakeBroker::hangsUp, FakeBroker::hangsUp, FakeBroker::pongs);
        FdBrokerClient client = client(socket)) {
      client.ping();
      assertEquals(3, broker.connections());
      assertEquals(List.of(10L, 20L), clock.slept());
    }
  }

  @Test
  void descriptorsOfAReplyCutShortAreClosedBeforeTheNextTry() throws Exception {
    Path marker = Files.writeString(dir.resolve("marker.txt"), "marker");
    Path socket = dir.resolve("b.sock");
    try (FakeBroker broker = new FakeBroker(socket, FakeBroker.cutsShort(marker), FakeBroker.grants(marker));
        FdBrokerClient client = client(socket)) {
      try (BrokeredFile file = client.open("/srv/marker.txt")) {
        assertEquals("marker", new String(file.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
        assertEquals(2, broker.connections());
        assertEquals(1, settledDescriptorsFor(marker, 1), "only the file handed out is open");
      }
      assertEquals(0, settledDescriptorsFor(marker, 0));
    }
  }

  @Test
  void noBrokerFailsAtTheDeadlineWithTheLastErrorAndHowLongItTried() {
    Path nowhere = dir.resolve("nothing-here.sock");
    try (FdBrokerClient client = client(nowhere, Duration.ofSeconds(6))) {
      BrokerUnavailableException e = assertThrows(BrokerUnavailableException.class, client::ping);
      assertTrue(e.getMessage().startsWith("fdbroker at " + nowhere + " is unavailable (8 tries in 1000 ms): "),
          e.getMessage());
      assertEquals(List.of(10L, 20L, 40L, 80L, 160L, 320L, 370L), clock.slept());
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void aStalePooledConnectionIsReplacedAtOnce() throws Exception {
    Path socket = dir.resolve("b.sock");
    try (FakeBroker broker = new FakeBroker(socket, FakeBroker::pongsOnce, FakeBroker::pongs);
        FdBrokerClient client = client(socket)) {
      client.ping();
      broker.awaitHangUp(); // the pooled connection is now stale
      client.ping();
      assertEquals(2, broker.connections());
      assertEquals(List.of(), clock.slept());
    }
  }

  @Test
  void aReplyThatDoesNotComeInTimeIsNotRetried() throws Exception {
    Path socket = dir.resolve("b.sock");
    try (FakeBroker broker = new FakeBroker(socket, FakeBroker::staysSilent);
        FdBrokerClient client = client(socket, Duration.ofMillis(200))) {
      SocketTimeoutException e = assertThrows(SocketTimeoutException.class, client::ping);
      assertEquals("fdbroker at " + socket + " did not answer within 200 ms", e.getMessage());
      assertEquals(1, broker.connections());
      assertEquals(List.of(), clock.slept());
    }
  }

  /** Descriptors of this process open on {@code file}, once their number has come down to {@code expected} (at most 10 s). */
  private static int settledDescriptorsFor(Path file, int expected) throws Exception {
    // The fake broker closes its own copy just after sending, perhaps after the client has read it.
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    int n;
    while ((n = descriptorsFor(file)) > expected && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    return n;
  }

  private static int descriptorsFor(Path file) throws IOException {
    Path real = file.toRealPath();
    int n = 0;
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      for (Path fd : (Iterable<Path>) fds::iterator) {
        try {
          if (Files.readSymbolicLink(fd).equals(real)) {
            n++;
          }
        } catch (IOException gone) {
          // closed meanwhile (the listing's own descriptor, for one)
        }
      }
    }
    return n;
  }
}
