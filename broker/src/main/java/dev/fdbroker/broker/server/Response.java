package dev.fdbroker.broker.server;

import dev.fdbroker.broker.audit.AuditEvent;
import dev.fdbroker.broker.metrics.BrokerMetrics.Op;
import dev.fdbroker.broker.metrics.BrokerMetrics.Outcome;
import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.JsonBytes;
import dev.fdbroker.protocol.ProtocolLimits;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.ReplyCodec;
import dev.fdbroker.protocol.RequestId;
import java.util.List;

/**
 * An encoded reply frame and the descriptors that travel with it, with what the metrics say of it
 * and the audit records of its decisions, which are written once it is known whether the reply
 * was delivered ({@link RequestHandler#finished}). The broker's copies of the descriptors, and the
 * pins they were reopened from ({@code pins[i]} for {@code fds[i]}), are closed by
 * {@link #close()}, right after sending (or failing to send).
 *
 * <p>The frame is the thread's reply frame ({@link #encode}): a reply is encoded there, in place,
 * and sent from there, so that it allocates no array of its own (one per reply was a fifth of
 * what a single-path open allocated). So a thread has one reply frame at a time, good until it
 * encodes its next reply: a serving thread encodes a request's reply, sends it (or a busy reply in
 * its place, which takes its place in the frame too) and only then turns to the next request;
 * whatever keeps a frame beyond that copies it ({@link Refusal#busy}). Audit lines have a buffer
 * of their own ({@link JsonBytes#start}).
 */
record Response(RequestId id, JsonBytes frame, int[] fds, int[] pins, boolean closeConnection, Op op, Outcome outcome,
    List<AuditEvent> audit) implements AutoCloseable {
  private static final int[] NONE = new int[0];
  private static final ThreadLocal<JsonBytes> FRAMES = ThreadLocal.withInitial(JsonBytes::new);

  static Response of(Reply reply, Op op, Outcome outcome) {
    return new Response(reply.id(), encodeWithinLimit(reply), NONE, NONE, false, op, outcome, List.of());
  }

  /** A reply after which the connection is closed (framing lost, or admission refused). */
  static Response last(Reply reply, Op op, Outcome outcome) {
    return new Response(reply.id(), encodeWithinLimit(reply), NONE, NONE, true, op, outcome, List.of());
  }

  /** This response, carrying these audit records. */
  Response withAudit(List<AuditEvent> records) {
    return new Response(id, frame, fds, pins, closeConnection, op, outcome, records);
  }

  /**
   * {@code reply}, encoded as this thread's reply frame: its first {@link JsonBytes#length} bytes,
   * header included. It may exceed the frame limit.
   */
  static JsonBytes encode(Reply reply) {
    JsonBytes frame = FRAMES.get();
    ReplyCodec.encode(reply, frame);
    return frame;
  }

  /** Whether an encoded frame is over the frame limit. */
  static boolean tooLarge(JsonBytes frame) {
    return frame.length() - ProtocolLimits.HEADER_BYTES > ProtocolLimits.MAX_FRAME_BYTES;
  }

  /**
   * Encodes a reply that carries no descriptors, or says too_large if it would not fit a frame. Ids
   * and messages are bounded so this cannot happen; the check keeps a frame over the limit from ever
   * reaching a client should that change.
   */
  private static JsonBytes encodeWithinLimit(Reply reply) {
    JsonBytes frame = encode(reply);
    if (!tooLarge(frame)) {
      return frame;
    }
    return encode(new Reply.Failed(RequestId.NONE, ErrorCode.TOO_LARGE,
        "the reply would exceed " + ProtocolLimits.MAX_FRAME_BYTES + " bytes"));
  }

  /** Closes the broker's copies of the descriptors sent (or not), and the pins they came from. */
  @Override
  public void close() {
    for (int i = 0; i < fds.length; i++) {
      Posix.closePair(pins[i], fds[i]);
    }
  }
}
