package dev.fdbroker.protocol;

import java.util.List;

/** A reply from the broker. Replies come in the order of the requests on a connection. */
public sealed interface Reply permits Reply.Opened, Reply.Pong, Reply.Failed {

  RequestId id();

  /** The answer to an open request: one result per requested path, in request order. */
  record Opened(RequestId id, List<FileResult> files) implements Reply {
    public Opened {
      files = List.copyOf(files);
    }

    /** How many descriptors the reply frame carries. */
    public int grantedCount() {
      int n = 0;
      for (FileResult f : files) {
        if (f instanceof FileResult.Granted) {
          n++;
        }
      }
      return n;
    }
  }

  /**
   * The answer to a ping.
   *
   * @param maxPaths the most paths this broker accepts in one open request
   */
  record Pong(RequestId id, String brokerVersion, int protocolVersion, int maxPaths) implements Reply {}

  /** The whole request failed (bad_request, too_large, busy). */
  record Failed(RequestId id, ErrorCode error, String message) implements Reply {}
}
