package dev.fdbroker.broker.server;

import dev.fdbroker.broker.audit.AuditLog;
import dev.fdbroker.broker.metrics.BrokerMetrics;
import dev.fdbroker.broker.opener.SecureOpener;
import dev.fdbroker.broker.policy.Caller;
import dev.fdbroker.broker.policy.CurrentPolicy;
import dev.fdbroker.broker.policy.Policy;
import dev.fdbroker.protocol.Frame;
import dev.fdbroker.protocol.FrameDecoder;
import dev.fdbroker.protocol.FramingException;
import dev.fdbroker.protocol.ProtocolLimits;
import dev.fdbroker.protocol.Request;
import dev.fdbroker.protocol.RequestCodec;
import dev.fdbroker.protocol.RequestId;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A whole request as a serving thread handles it, all but the socket: the frame cut from received
 * bytes, decoded, each path decided and opened (real system calls, on real files), the reply
 * encoded, the decisions counted and audited (to /dev/null, through the real batching writer), the
 * broker's descriptors closed. What {@code Connection.serve} does between its {@code recv} and its
 * {@code sendmsg}; with {@code -prof gc}, {@code gc.alloc.rate.norm} is the bytes a request
 * allocates (issue 13). In this package for {@link RequestHandler}, which is the server's own.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class RequestBenchmark {
  private static final int FILES = 4;

  /** Paths per request: "1" is loadgen's single-path open; "denied" a single path no rule allows. */
  @Param({"1", "denied", "64"})
  String shape;

  private Path dir;
  private BrokerMetrics metrics;
  private AuditLog audit;
  private RequestHandler handler;
  private Peer peer;
  private Policy snapshot;
  private final FrameDecoder decoder = new FrameDecoder(ProtocolLimits.MAX_FRAME_BYTES, 512);
  private final List<byte[]> requests = new ArrayList<>();
  private int next;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    dir = Files.createTempDirectory("fdbroker-jmh-request-");
    Path leaf = Files.createDirectories(dir.resolve("srv/assets/render/v1/textures"));
    List<String> files = new ArrayList<>();
    for (int i = 0; i < FILES; i++) {
      Path f = leaf.resolve(String.format("t%02d.bin", i));
      Files.write(f, new byte[1000]);
      files.add(f.toString());
    }
    long uid = new com.sun.security.auth.module.UnixSystem().getUid();
    Path policyFile = dir.resolve("policy.yaml");
    Files.writeString(policyFile, "limits:\n  requests_per_second_per_uid: 100000000\nrules:\n  - name: bench\n"
        + "    users: [" + uid + "]\n    allow: [\"" + dir.resolve("srv/assets") + "/**\"]\n");
    Policy policy = Policy.load(policyFile);
    metrics = new BrokerMetrics();
    audit = AuditLog.open(Path.of("/dev/null"), metrics);
    handler = new RequestHandler(new CurrentPolicy(policy), SecureOpener.forThisKernel(), "bench", metrics, audit);
    peer = new Peer(1, new Caller(uid, uid, ProcessHandle.current().pid(), new long[0], "bench", null, true),
        "/usr/bin/bench", false);
    snapshot = handler.policyNow();
    for (int r = 0; r < FILES; r++) {
      List<String> paths = new ArrayList<>();
      switch (shape) {
        case "1" -> paths.add(files.get(r));
        case "denied" -> paths.add("/etc/fdbroker-jmh-" + r);
        default -> {
          for (int i = 0; i < 64; i++) {
            paths.add(files.get((r + i) % FILES));
          }
        }
      }
      requests.add(RequestCodec.encode(new Request.Open(RequestId.ofNumber(r + 1), paths)));
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    audit.close();
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  /** One request, as {@code Connection.serve} handles it once its bytes have arrived. */
  @Benchmark
  public int request() throws FramingException {
    byte[] bytes = requests.get(next);
    next = (next + 1) % requests.size();
    Frame frame = null;
    for (int at = 0; frame == null; ) { // what recv does, as much as the decoder has room for at a time
      int n = Math.min(bytes.length - at, decoder.writable());
      System.arraycopy(bytes, at, decoder.array(), decoder.writeOffset(), n);
      decoder.received(n);
      at += n;
      frame = decoder.next();
    }
    long start = System.nanoTime();
    int sent;
    try (Response response = handler.handle(peer, snapshot, frame, true, start)) {
      sent = response.frame().length() + response.fds().length;
      handler.finished(response, null);
      metrics.request(BrokerMetrics.Op.OPEN, response.outcome(), System.nanoTime() - start);
    }
    return sent;
  }
}
