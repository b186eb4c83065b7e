package dev.fdbroker.broker.server;

import dev.fdbroker.broker.audit.AuditEvent;
import dev.fdbroker.broker.audit.AuditLog;
import dev.fdbroker.broker.audit.WallClock;
import dev.fdbroker.broker.metrics.BrokerMetrics;
import dev.fdbroker.broker.metrics.BrokerMetrics.Op;
import dev.fdbroker.broker.metrics.BrokerMetrics.Outcome;
import dev.fdbroker.broker.opener.OpenOutcome;
import dev.fdbroker.broker.opener.SecureOpener;
import dev.fdbroker.broker.policy.Caller;
import dev.fdbroker.broker.policy.CurrentPolicy;
import dev.fdbroker.broker.policy.Decision;
import dev.fdbroker.broker.policy.Policy;
import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.protocol.BadRequestException;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.FileResult;
import dev.fdbroker.protocol.Frame;
import dev.fdbroker.protocol.JsonBytes;
import dev.fdbroker.protocol.PathSyntax;
import dev.fdbroker.protocol.ProtocolLimits;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.Request;
import dev.fdbroker.protocol.RequestDecoder;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * Answers one request frame from one caller: decode, decide each path, open what is allowed (stat
 * and list are answered by {@link PathDescriber} and {@link DirectoryLister}); every decision
 * counted and audited.
 */
final class RequestHandler {
  static final String DENIED_MESSAGE = "not allowed by policy";
  /** Each serving thread's request decoder: it keeps one JSON parser for all the requests it decodes. */
  private static final ThreadLocal<RequestDecoder> DECODERS = ThreadLocal.withInitial(RequestDecoder::new);

  private final CurrentPolicy policy;
  private final SecureOpener opener;
  private final String version;
  private final BrokerMetrics metrics;
  private final AuditLog audit;
  private final LongAdder served = new LongAdder();
  private final UserNames users = new UserNames();
  private final PathDescriber describer;
  private final DirectoryLister lister;

  RequestHandler(CurrentPolicy policy, SecureOpener opener, String version, BrokerMetrics metrics, AuditLog audit) {
    this.policy = policy;
    this.opener = opener;
    this.version = version;
    this.metrics = metrics;
    this.audit = audit;
    this.describer = new PathDescriber(opener, metrics);
    this.lister = new DirectoryLister(opener, metrics);
  }

  /**
   * The whole caller of a connection, from what the kernel said at accept: once per connection, on
   * its own thread. Its unit is read only if the policy in force names units.
   */
  Peer identify(long connection, int socketFd, Caller kernel) {
    return Peer.of(connection, socketFd, kernel, users, policy.get().usesUnits());
  }

  /** The policy in force now: one snapshot per request, for {@link #complete} and {@link #handle} alike. */
  Policy policyNow() {
    return policy.get();
  }

  /** {@code peer}, with its unit if {@code snapshot} (a policy reloaded since it connected) needs it. */
  Peer complete(Peer peer, int socketFd, Policy snapshot) {
    return peer.unitRead() || !snapshot.usesUnits() ? peer : peer.withUnit(socketFd);
  }

  long requestsServed() {
    return served.sum();
  }

  /**
   * @param snapshot the policy in force when the request began, under which {@code peer} was completed
   * @param withinRate false if the caller is over its request rate: the request is decoded (for its
   *     id) and answered busy, nothing else
   */
  Response handle(Peer peer, Policy snapshot, Frame frame, boolean withinRate, long start) {
    served.increment();
    // One snapshot for the whole request (taken by the caller, which completed the peer under it):
    // a reload takes effect between requests, never inside one.
    int maxPaths = snapshot.limits().maxPathsPerRequest();
    Request request;
    try {
      request = DECODERS.get().decode(frame, maxPaths);
    } catch (BadRequestException e) {
      if (!withinRate) {
        return overRate(peer, e.id(), Op.INVALID, snapshot);
      }
      refusedWhole(peer, ErrorCode.BAD_REQUEST, start);
      return Response.of(new Reply.Failed(e.id(), ErrorCode.BAD_REQUEST, e.getMessage()), Op.INVALID, Outcome.BAD_REQUEST);
    }
    if (!withinRate) {
      return overRate(peer, request.id(), switch (request) {
        case Request.Open o -> Op.OPEN;
        case Request.Stat s -> Op.STAT;
        case Request.List l -> Op.LIST;
        case Request.Ping p -> Op.PING;
      }, snapshot);
    }
    return switch (request) {
      case Request.Ping ping -> Response.of(
          new Reply.Pong(ping.id(), version, ProtocolLimits.PROTOCOL_VERSION, maxPaths), Op.PING, Outcome.OK);
      case Request.Open open -> open(snapshot, peer, open, start);
      case Request.Stat stat -> describer.stat(snapshot, peer, stat, start);
      case Request.List list -> lister.list(snapshot, peer, list, start);
    };
  }

  /**
   * A request over the caller's rate is answered busy, unprocessed and unaudited: a flood must not
   * flood the audit log too. The metrics count it.
   */
  private static Response overRate(Peer peer, dev.fdbroker.protocol.RequestId id, Op op, Policy snapshot) {
    return Response.of(new Reply.Failed(id, ErrorCode.BUSY, "uid " + peer.caller().uid() + " is over its rate of "
        + snapshot.limits().requestsPerSecondPerUid() + " requests a second; slow down"), op, Outcome.BUSY);
  }

  /** Audits a request refused as a whole (not well formed, or framing lost). */
  void refusedWhole(Peer peer, ErrorCode code, long startNanos) {
    long now = System.nanoTime();
    audit.record(new AuditEvent(WallClock.epochNanos(now), peer.connection(), peer.caller(), peer.executable(),
        "invalid", null, "invalid", null, code.wireName(), (now - startNanos) / 1000));
  }

  /**
   * Audits and counts what a request decided, once its reply was sent or could not be. Grants are
   * recorded only now: a grant whose reply never reached the caller is audited with why
   * ({@code undelivered}: {@code busy} when over the budget of descriptors in flight, else
   * {@code not_delivered}), never as a plain allow.
   *
   * @param undelivered null if the reply reached the client
   */
  void finished(Response response, String undelivered) {
    List<AuditEvent> records = response.audit();
    for (int i = 0; i < records.size(); i++) { // by index: no iterator per request
      AuditEvent e = records.get(i);
      if (e.isGrant()) {
        if (undelivered == null) {
          metrics.fileGranted();
        } else if (undelivered.equals(ErrorCode.BUSY.wireName())) {
          metrics.fileRefused(ErrorCode.BUSY);
          e = e.undelivered(undelivered);
        } else {
          metrics.fileUndelivered();
          e = e.undelivered(undelivered);
        }
      }
      audit.record(e);
    }
  }

  private Response open(Policy snapshot, Peer peer, Request.Open request, long start) {
    List<String> paths = request.paths();
    int[] fds = new int[paths.size()];
    int[] pins = new int[paths.size()];
    int granted = 0;
    AuditEvent[] events = new AuditEvent[paths.size()];
    try {
      FileResult[] results = new FileResult[paths.size()];
      long t0 = start; // the first path's time includes decoding the request
      for (int i = 0; i < paths.size(); i++) {
        String path = paths.get(i);
        PathOutcome outcome = openOne(snapshot, peer, path, granted);
        if (outcome.fd() >= 0) {
          fds[granted] = outcome.fd();
          pins[granted] = outcome.pin();
          granted++;
        }
        results[i] = outcome.result();
        long t1 = System.nanoTime();
        events[i] = decided(peer, path, outcome, WallClock.epochNanos(t1), t1 - t0);
        t0 = t1;
      }
      JsonBytes frame = Response.encode(new Reply.Opened(request.id(), List.of(results)));
      if (Response.tooLarge(frame)) {
        closeAll(fds, pins, granted);
        for (int i = 0; i < events.length; i++) {
          if (events[i].isGrant()) {
            metrics.fileUndelivered();
            events[i] = events[i].undelivered(ErrorCode.TOO_LARGE.wireName());
          }
        }
        return Response.of(new Reply.Failed(request.id(), ErrorCode.TOO_LARGE,
            "the reply would exceed " + ProtocolLimits.MAX_FRAME_BYTES + " bytes; ask for fewer or shorter paths"),
            Op.OPEN, Outcome.TOO_LARGE).withAudit(List.of(events));
      }
      // Every path granted (the usual case): the arrays are the response's as they are.
      return new Response(request.id(), frame, granted == fds.length ? fds : Arrays.copyOf(fds, granted),
          granted == pins.length ? pins : Arrays.copyOf(pins, granted), false, Op.OPEN, Outcome.OK, List.of(events));
    } catch (RuntimeException | Error e) {
      closeAll(fds, pins, granted);
      for (AuditEvent event : events) {
        if (event != null) {
          audit.record(event.isGrant() ? event.undelivered(AuditEvent.NOT_DELIVERED) : event);
        }
      }
      throw e;
    }
  }

  /**
   * What happened to one path: the result, as the reply gives it, and the policy's verdict for the
   * audit log; for a grant, the descriptor to send (its index in the reply's descriptors is in the
   * result) and the pin it was reopened from ({@link OpenOutcome.Opened}), else -1 and -1.
   */
  private record PathOutcome(FileResult result, String decision, String rule, int fd, int pin) {
    PathOutcome(FileResult result, String decision, String rule) {
      this(result, decision, rule, -1, -1);
    }
  }

  /** Decides and opens one path; a grant is the {@code index}th descriptor of the reply. */
  private PathOutcome openOne(Policy snapshot, Peer peer, String path, int index) {
    String problem = PathSyntax.problem(path);
    if (problem != null) {
      return new PathOutcome(new FileResult.Refused(path, ErrorCode.BAD_REQUEST, problem), "invalid", null);
    }
    // Deny before touching the filesystem, so a denial reveals nothing about whether the file exists.
    Decision decision = snapshot.decide(peer.caller(), path);
    String rule = decision.ruleName();
    metrics.decision(decision.allowed(), rule);
    if (!decision.allowed()) {
      return new PathOutcome(new FileResult.Refused(path, ErrorCode.DENIED, DENIED_MESSAGE), "deny", rule);
    }
    long owner = decision.ownerOnly() ? peer.caller().uid() : SecureOpener.ANY_OWNER;
    return switch (opener.open(path, owner)) {
      case OpenOutcome.Opened opened ->
          new PathOutcome(new FileResult.Granted(path, index, opened.stat().size(), opened.stat().mtimeNs(),
              opened.stat().permissions()), "allow", rule, opened.fd(), opened.pin());
      case OpenOutcome.Refused refused ->
          new PathOutcome(new FileResult.Refused(path, refused.code(), refused.message()), "allow", rule);
    };
  }

  /**
   * The audit record of one path's outcome, made at {@code epochNanos} after {@code nanos}; a refusal is
   * counted now, a grant once its reply is sent ({@link #finished}).
   */
  private AuditEvent decided(Peer peer, String path, PathOutcome outcome, long epochNanos, long nanos) {
    String error = null;
    if (outcome.result() instanceof FileResult.Refused r) {
      error = r.error().wireName();
      metrics.fileRefused(r.error());
    }
    return new AuditEvent(epochNanos, peer.connection(), peer.caller(), peer.executable(), "open",
        path, outcome.decision(), outcome.rule(), error, nanos / 1000);
  }

  private static void closeAll(int[] fds, int[] pins, int count) {
    for (int i = 0; i < count; i++) {
      Posix.closePair(pins[i], fds[i]);
    }
  }
}
