package dev.fdbroker.bench;

import dev.fdbroker.protocol.BadRequestException;
import dev.fdbroker.protocol.FileResult;
import dev.fdbroker.protocol.Frame;
import dev.fdbroker.protocol.FrameDecoder;
import dev.fdbroker.protocol.FramingException;
import dev.fdbroker.protocol.ProtocolLimits;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.ReplyCodec;
import dev.fdbroker.protocol.Request;
import dev.fdbroker.protocol.RequestCodec;
import dev.fdbroker.protocol.RequestDecoder;
import dev.fdbroker.protocol.RequestId;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The frame codec on the broker's side: cutting a request frame out of received bytes, decoding
 * the request (strict UTF-8 check and JSON; with a parser of its own, and with the one kept between
 * requests), encoding the reply; for a one-path and a 64-path
 * request.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class FrameCodecBenchmark {
  @Param({"1", "64"})
  int paths;

  private byte[] requestFrame;
  private Frame request;
  private Reply reply;
  private final FrameDecoder decoder = new FrameDecoder(ProtocolLimits.MAX_FRAME_BYTES, 512);
  private final RequestDecoder kept = new RequestDecoder();

  @Setup
  public void setUp() {
    List<String> names = new ArrayList<>();
    List<FileResult> results = new ArrayList<>();
    for (int i = 0; i < paths; i++) {
      String path = "/srv/assets/render/v1/textures/t" + i + ".bin";
      names.add(path);
      results.add(new FileResult.Granted(path, i, 1000));
    }
    requestFrame = RequestCodec.encode(new Request.Open(RequestId.ofNumber(12345), names));
    request = new Frame(requestFrame, ProtocolLimits.HEADER_BYTES, requestFrame.length - ProtocolLimits.HEADER_BYTES);
    reply = new Reply.Opened(RequestId.ofNumber(12345), results);
  }

  @Benchmark
  public Frame cutFrame() throws FramingException {
    int left = requestFrame.length;
    int at = 0;
    Frame f = null;
    while (f == null) {
      int n = Math.min(left, decoder.writable());
      System.arraycopy(requestFrame, at, decoder.array(), decoder.writeOffset(), n);
      decoder.received(n);
      at += n;
      left -= n;
      f = decoder.next();
    }
    return f;
  }

  @Benchmark
  public Request decodeRequest() throws BadRequestException {
    return RequestCodec.decode(request, ProtocolLimits.MAX_PATHS_PER_REQUEST);
  }

  /** As the broker decodes: one parser kept between requests (RequestDecoder). */
  @Benchmark
  public Request decodeRequestKeptParser() throws BadRequestException {
    return kept.decode(request, ProtocolLimits.MAX_PATHS_PER_REQUEST);
  }

  @Benchmark
  public byte[] encodeReply() {
    return ReplyCodec.encode(reply);
  }
}
