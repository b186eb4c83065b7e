package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Malformed frames and JSON from a misbehaving client: each gets a clear error, the connection stays
 * usable where framing survives, the broker keeps serving everyone, and its descriptor count comes
 * back to where it started.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HostileInputIT {
  private Fixture f;
  private int baselineDescriptors;
  private int baselineThreads;

  @BeforeAll
  void start() throws Exception {
    f = Fixture.start("");
    // Warm up: the first requests make the JVM open what it opens lazily (classes, epoll fds).
    for (int i = 0; i < 3; i++) {
      try (RawClient c = new RawClient(f.socket)) {
        c.request("{\"id\":1,\"op\":\"open\",\"paths\":[\"" + f.allowed + "/public.txt\"]}");
        c.request("{\"op\":\"bad\"}");
      }
    }
    baselineDescriptors = f.broker.quiescentDescriptors();
    baselineThreads = f.broker.osThreads();
  }

  @AfterAll
  void stop() throws Exception {
    if (f != null) {
      f.close();
    }
  }

  static Stream<Arguments> badRequests() {
    return Stream.of(
        Arguments.of("truncated JSON", "{\"id\":1,\"op\":\"open\",\"paths\":[\"/a\"", "malformed JSON"),
        Arguments.of("not an object", "[\"open\"]", "request must be a JSON object"),
        Arguments.of("paths not a list", "{\"id\":2,\"op\":\"open\",\"paths\":\"/a\"}", "\"paths\" must be an array of strings"),
        Arguments.of("path not a string", "{\"id\":3,\"op\":\"open\",\"paths\":[7]}", "\"paths\" must be an array of strings"),
        Arguments.of("op not a string", "{\"id\":4,\"op\":[\"open\"]}", "\"op\" must be a string"),
        Arguments.of("unknown op", "{\"id\":5,\"op\":\"unlink\",\"paths\":[\"/a\"]}", "unknown op"),
        Arguments.of("caller fields are not ours to set", "{\"id\":6,\"op\":\"open\",\"uid\":0,\"paths\":[\"/a\"]}", "unknown field \"uid\""),
        Arguments.of("id not a scalar", "{\"id\":{\"x\":1},\"op\":\"ping\"}", "\"id\" must be a JSON scalar"),
        Arguments.of("duplicate key", "{\"op\":\"ping\",\"op\":\"open\"}", "Duplicate field"),
        Arguments.of("no paths", "{\"op\":\"open\",\"paths\":[]}", "at least one path"),
        Arguments.of("too many paths", "{\"op\":\"open\",\"paths\":[" + "\"/a\",".repeat(64) + "\"/a\"]}", "too many paths"),
        Arguments.of("binary garbage", "\u0001\u0002garbage", "malformed JSON"),
        Arguments.of("trailing data", "{\"op\":\"ping\"}{\"op\":\"ping\"}", "trailing data"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badRequests")
  @Order(1)
  void badRequestsGetAClearErrorAndTheConnectionStaysUsable(String what, String json, String message) throws Exception {
    try (RawClient c = new RawClient(f.socket)) {
      JsonNode reply = c.request(json);
      assertFalse(reply.get("ok").asBoolean(), reply.toString());
      assertEquals("bad_request", reply.get("error").asText(), reply.toString());
      assertTrue(reply.get("message").asText().contains(message), reply.toString());
      JsonNode pong = c.request("{\"id\":\"next\",\"op\":\"ping\"}");
      assertEquals("next", pong.get("id").asText(), "same connection still served");
    }
  }

  @Test
  @Order(1)
  void anUnknownOpIsNamedAndItsIdEchoedWhateverElseTheRequestHolds() throws Exception {
    try (RawClient c = new RawClient(f.socket)) {
      JsonNode reply = c.request("{\"paths\":[\"/a\"],\"recursive\":true,\"op\":\"delete\",\"id\":11}");
      assertEquals("bad_request", reply.get("error").asText(), reply.toString());
      assertEquals("unknown op \"delete\" (expected \"open\", \"stat\", \"list\" or \"ping\")", reply.get("message").asText());
      assertEquals(11, reply.get("id").asInt(), "the id is echoed though it came last: " + reply);
    }
  }

  @Test
  @Order(1)
  void invalidUtf8IsABadRequest() throws Exception {
    byte[] json = ("{\"id\":9,\"op\":\"open\",\"paths\":[\"" + f.allowed + "/public.txt\"]}").getBytes(StandardCharsets.UTF_8);
    byte[] overlong = json.clone();
    int slash = new String(json, StandardCharsets.ISO_8859_1).lastIndexOf("/public");
    byte[] evil = new byte[json.length + 1];
    System.arraycopy(json, 0, evil, 0, slash);
    evil[slash] = (byte) 0xc0; // "/" as an overlong two-byte sequence
    evil[slash + 1] = (byte) 0xaf;
    System.arraycopy(json, slash + 1, evil, slash + 2, json.length - slash - 1);
    overlong[10] = (byte) 0xff;
    try (RawClient c = new RawClient(f.socket)) {
      for (byte[] bad : new byte[][] {overlong, evil}) {
        JsonNode reply = c.send(RawClient.frame(bad)).reply();
        assertEquals("bad_request", reply.get("error").asText(), reply.toString());
        assertTrue(reply.get("message").asText().contains("not valid UTF-8"), reply.toString());
      }
      assertTrue(c.request("{\"op\":\"ping\"}").get("ok").asBoolean());
    }
  }

  @Test
  @Order(1)
  void oversizedAndEmptyFramesAreAnsweredThenTheConnectionIsClosed() throws Exception {
    byte[][] headers = {
        {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff},
        {0, 1, 0, 1}, // 65537
        {0, 0, 0, 0},
    };
    String[] codes = {"too_large", "too_large", "bad_request"};
    for (int i = 0; i < headers.length; i++) {
      try (RawClient c = new RawClient(f.socket)) {
        JsonNode reply = c.send(headers[i]).reply();
        assertEquals(codes[i], reply.get("error").asText(), reply.toString());
        assertTrue(reply.get("id").isNull());
        assertTrue(c.closedByBroker(), "framing is lost, so the broker hangs up");
      }
    }
  }

  @Test
  @Order(1)
  void aMaximumSizeFrameIsReadInFull() throws Exception {
    String ping = "{\"op\":\"ping\",\"id\":\"max\"}";
    String json = ping + " ".repeat(65536 - ping.length());
    try (RawClient c = new RawClient(f.socket)) {
      assertEquals("max", c.request(json).get("id").asText());
      // An id too long to echo safely is refused rather than echoed into an oversized reply.
      JsonNode reply = c.request("{\"op\":\"ping\",\"id\":\"" + "x".repeat(60_000) + "\"}");
      assertEquals("bad_request", reply.get("error").asText());
      assertTrue(reply.get("id").isNull());
    }
  }

  @Test
  @Order(1)
  void clientsVanishingMidFrameOrMidReplyLeaveNothingBehind() throws Exception {
    for (int i = 0; i < 20; i++) {
      try (RawClient c = new RawClient(f.socket)) {
        c.send(new byte[] {0, 0}); // half a header
      }
      try (RawClient c = new RawClient(f.socket)) {
        c.send(new byte[] {0, 0, 0, 100, '{', '"'}); // a header and a little of the body
      }
      try (RawClient c = new RawClient(f.socket)) {
        // Ask for descriptors and hang up without reading them.
        c.send(RawClient.frame("{\"op\":\"open\",\"paths\":[\"" + f.allowed + "/public.txt\",\"" + f.secret + "\"]}"));
      }
    }
    assertTrue(f.broker.isAlive());
  }

  @Test
  @Order(1)
  void descriptorsSentToTheBrokerAreClosedAtOnce() throws Exception {
    Path bait = Files.writeString(f.root.resolve("bait.txt"), "bait");
    try (FileInputStream in = new FileInputStream(bait.toFile()); RawClient c = new RawClient(f.socket)) {
      FileDescriptor[] many = new FileDescriptor[10];
      java.util.Arrays.fill(many, in.getFD());
      c.socket.setOutboundFileDescriptors(many);
      c.send(RawClient.frame("{\"op\":\"ping\",\"id\":1}"));
      c.socket.setOutboundFileDescriptors((FileDescriptor[]) null);
      // The broker must not keep it, whether or not it goes on serving this connection.
      try {
        c.reply();
      } catch (java.io.IOException closed) {
        // closing the connection is an acceptable answer to unwanted descriptors
      }
      assertFalse(brokerHolds(bait), "the broker kept a descriptor it was sent");
    }
    try (RawClient c = new RawClient(f.socket)) {
      assertTrue(c.request("{\"op\":\"ping\"}").get("ok").asBoolean());
    }
  }

  private boolean brokerHolds(Path file) throws Exception {
    Path target = file.toRealPath();
    Thread.sleep(200);
    try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(f.broker.pid()), "fd"))) {
      return fds.anyMatch(fd -> {
        try {
          return Files.readSymbolicLink(fd).equals(target);
        } catch (Exception e) {
          return false;
        }
      });
    }
  }

  @Test
  @Order(1)
  void randomBytesNeverHurtTheBroker() throws Exception {
    Random random = new Random(42);
    for (int i = 0; i < 200; i++) {
      byte[] junk = new byte[random.nextInt(300)];
      random.nextBytes(junk);
      try (RawClient c = new RawClient(f.socket)) {
        c.send(random.nextBoolean() ? RawClient.frame(junk) : junk);
      }
    }
    try (RawClient c = new RawClient(f.socket)) {
      assertTrue(c.request("{\"op\":\"ping\"}").get("ok").asBoolean());
    }
  }

  @Test
  @Order(2)
  void afterAllOfThatTheBrokersDescriptorCountIsBackWhereItStarted() throws Exception {
    assertTrue(f.broker.isAlive(), f.broker.log());
    int after = BrokerProcess.settlesTo(f.broker::openDescriptors, baselineDescriptors);
    assertTrue(after <= baselineDescriptors, "open descriptors in the broker: " + after + ", at the start " + baselineDescriptors);
    // Hundreds of connections came and went; a thread per connection would show. The JVM may add
    // a few threads of its own (JIT compilers, carriers), hence the slack.
    int threads = BrokerProcess.settlesTo(f.broker::osThreads, baselineThreads + 16);
    assertTrue(threads <= baselineThreads + 16, "OS threads in the broker: " + threads + ", at the start " + baselineThreads);
  }
}
