package dev.fdbroker.broker.server;

import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.ReplyCodec;

/**
 * An encoded reply frame and the descriptors that travel with it. The broker's copies of the
 * descriptors are closed by {@link #close()}, right after sending (or failing to send).
 */
record Response(byte[] frame, int[] fds, boolean closeConnection) implements AutoCloseable {
  private static final int[] NONE = new int[0];

  static Response of(Reply reply) {
    return new Response(ReplyCodec.encode(reply), NONE, false);
  }

  /** A reply after which the connection is closed (framing lost, or admission refused). */
  static Response last(Reply reply) {
    return new Response(ReplyCodec.encode(reply), NONE, true);
  }

  @Override
  public void close() {
    for (int fd : fds) {
      Posix.close(fd);
    }
  }
}
