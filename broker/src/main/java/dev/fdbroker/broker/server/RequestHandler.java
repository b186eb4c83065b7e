package dev.fdbroker.broker.server;

import dev.fdbroker.broker.opener.OpenOutcome;
import dev.fdbroker.broker.opener.SecureOpener;
import dev.fdbroker.broker.policy.Caller;
import dev.fdbroker.broker.policy.CurrentPolicy;
import dev.fdbroker.broker.policy.Policy;
import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.protocol.BadRequestException;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.FileResult;
import dev.fdbroker.protocol.Frame;
import dev.fdbroker.protocol.PathSyntax;
import dev.fdbroker.protocol.ProtocolLimits;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.ReplyCodec;
import dev.fdbroker.protocol.Request;
import dev.fdbroker.protocol.RequestCodec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Answers one request frame from one caller: decode, decide each path, open what is allowed. */
final class RequestHandler {
  static final String DENIED_MESSAGE = "not allowed by policy";

  private final CurrentPolicy policy;
  private final SecureOpener opener;
  private final String version;
  private final java.util.concurrent.atomic.LongAdder served = new java.util.concurrent.atomic.LongAdder();

  RequestHandler(CurrentPolicy policy, SecureOpener opener, String version) {
    this.policy = policy;
    this.opener = opener;
    this.version = version;
  }

  long requestsServed() {
    return served.sum();
  }

  Response handle(Caller caller, Frame frame) {
    served.increment();
    // One snapshot for the whole request: a reload takes effect between requests, never inside one.
    Policy snapshot = policy.get();
    int maxPaths = snapshot.limits().maxPathsPerRequest();
    Request request;
    try {
      request = RequestCodec.decode(frame, maxPaths);
    } catch (BadRequestException e) {
      return Response.of(new Reply.Failed(e.id(), ErrorCode.BAD_REQUEST, e.getMessage()));
    }
    return switch (request) {
      case Request.Ping ping -> Response.of(
          new Reply.Pong(ping.id(), version, ProtocolLimits.PROTOCOL_VERSION, maxPaths));
      case Request.Open open -> open(snapshot, caller, open);
    };
  }

  private Response open(Policy snapshot, Caller caller, Request.Open request) {
    List<String> paths = request.paths();
    int[] fds = new int[paths.size()];
    int granted = 0;
    try {
      List<FileResult> results = new ArrayList<>(paths.size());
      for (String path : paths) {
        String problem = PathSyntax.problem(path);
        if (problem != null) {
          results.add(new FileResult.Refused(path, ErrorCode.BAD_REQUEST, problem));
          continue;
        }
        // Deny before touching the filesystem, so a denial reveals nothing about whether the file exists.
        if (!snapshot.decide(caller, path).allowed()) {
          results.add(new FileResult.Refused(path, ErrorCode.DENIED, DENIED_MESSAGE));
          continue;
        }
        switch (opener.open(path)) {
          case OpenOutcome.Opened opened -> {
            fds[granted] = opened.fd();
            results.add(new FileResult.Granted(path, granted, opened.stat().size()));
            granted++;
          }
          case OpenOutcome.Refused refused ->
              results.add(new FileResult.Refused(path, refused.code(), refused.message()));
        }
      }
      byte[] frame = ReplyCodec.encode(new Reply.Opened(request.id(), results));
      if (frame.length - ProtocolLimits.HEADER_BYTES > ProtocolLimits.MAX_FRAME_BYTES) {
        closeAll(fds, granted);
        return Response.of(new Reply.Failed(request.id(), ErrorCode.TOO_LARGE,
            "the reply would exceed " + ProtocolLimits.MAX_FRAME_BYTES + " bytes; ask for fewer or shorter paths"));
      }
      return new Response(frame, Arrays.copyOf(fds, granted), false);
    } catch (RuntimeException | Error e) {
      closeAll(fds, granted);
      throw e;
    }
  }

  private static void closeAll(int[] fds, int count) {
    for (int i = 0; i < count; i++) {
      Posix.close(fds[i]);
    }
  }
}
