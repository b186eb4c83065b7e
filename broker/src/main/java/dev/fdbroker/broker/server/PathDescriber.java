package dev.fdbroker.broker.server;

import dev.fdbroker.broker.audit.AuditEvent;
import dev.fdbroker.broker.audit.WallClock;
import dev.fdbroker.broker.metrics.BrokerMetrics;
import dev.fdbroker.broker.metrics.BrokerMetrics.Op;
import dev.fdbroker.broker.metrics.BrokerMetrics.Outcome;
import dev.fdbroker.broker.opener.SecureOpener;
import dev.fdbroker.broker.opener.StatOutcome;
import dev.fdbroker.broker.policy.Caller;
import dev.fdbroker.broker.policy.Decision;
import dev.fdbroker.broker.policy.Policy;
import dev.fdbroker.broker.posix.FileStat;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.FileResult;
import dev.fdbroker.protocol.PathSyntax;
import dev.fdbroker.protocol.ProtocolLimits;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.Request;
import java.util.ArrayList;
import java.util.List;

/** Answers stat requests: each path decided ({@link Policy#decideToSee}), then described from its pin. */
final class PathDescriber {
  private final SecureOpener opener;
  private final BrokerMetrics metrics;

  PathDescriber(SecureOpener opener, BrokerMetrics metrics) {
    this.opener = opener;
    this.metrics = metrics;
  }

  Response stat(Policy snapshot, Peer peer, Request.Stat request, long start) {
    List<FileResult> results = new ArrayList<>(request.paths().size());
    List<AuditEvent> events = new ArrayList<>(request.paths().size());
    long t0 = start;
    for (String path : request.paths()) {
      Judged judged = describe(snapshot, peer.caller(), path);
      results.add(judged.result());
      String error = null;
      if (judged.result() instanceof FileResult.Refused r) {
        error = r.error().wireName();
        metrics.fileRefused(r.error());
      } else {
        metrics.fileDescribed();
      }
      long t1 = System.nanoTime();
      events.add(new AuditEvent(WallClock.epochNanos(t1), peer.connection(), peer.caller(), peer.executable(),
          "stat", path, judged.decision(), judged.rule(), error, (t1 - t0) / 1000));
      t0 = t1;
    }
    Reply reply = new Reply.Stated(request.id(), results);
    if (Response.tooLarge(Response.encode(reply))) {
      return Response.of(new Reply.Failed(request.id(), ErrorCode.TOO_LARGE,
          "the reply would exceed " + ProtocolLimits.MAX_FRAME_BYTES + " bytes; ask for fewer or shorter paths"),
          Op.STAT, Outcome.TOO_LARGE).withAudit(events);
    }
    return Response.of(reply, Op.STAT, Outcome.OK).withAudit(events);
  }

  /** One path's answer, and the policy's verdict and rule for the audit log. */
  private record Judged(FileResult result, String decision, String rule) {}

  private Judged describe(Policy snapshot, Caller caller, String path) {
    String problem = PathSyntax.problem(path);
    if (problem != null) {
      return new Judged(new FileResult.Refused(path, ErrorCode.BAD_REQUEST, problem), "invalid", null);
    }
    // Decided before touching the filesystem, as for open: a denial says nothing of existence.
    Decision decision = snapshot.decideToSee(caller, path);
    String rule = decision.ruleName();
    metrics.decision(decision.allowed(), rule);
    if (!decision.allowed()) {
      return new Judged(new FileResult.Refused(path, ErrorCode.DENIED, RequestHandler.DENIED_MESSAGE), "deny", rule);
    }
    FileResult result = switch (opener.describe(path)) {
      case StatOutcome.Refused r -> new FileResult.Refused(path, r.code(), r.message());
      case StatOutcome.Described d -> visible(snapshot, caller, path, decision, d.stat());
    };
    return new Judged(result, "allow", rule);
  }

  /** What the caller is shown of a path it may see, by its {@link Sight}. */
  private static FileResult visible(Policy snapshot, Caller caller, String path, Decision decision, FileStat stat) {
    return switch (Sight.of(snapshot, caller, path, decision, stat)) {
      case WHOLE -> Attributes.found(path, stat);
      case OTHERS_FILE -> new FileResult.Refused(path, ErrorCode.DENIED, SecureOpener.OWNER_MESSAGE);
      // As an open of a path below it would answer: nothing here to pass through.
      case NO_WAY -> stat.isSymlink()
          ? new FileResult.Refused(path, ErrorCode.SYMLINK, "a symbolic link, and fdbroker never follows one")
          : new FileResult.Refused(path, ErrorCode.NOT_FOUND, "no such file");
    };
  }
}
