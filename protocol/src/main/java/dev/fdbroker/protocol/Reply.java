package dev.fdbroker.protocol;

import java.util.List;

/** A reply from the broker. Replies come in the order of the requests on a connection. */
public sealed interface Reply permits Reply.Opened, Reply.Stated, Reply.Listed, Reply.Pong, Reply.Failed {

  RequestId id();

  /** The answer to an open request: one result per requested path, in request order. */
  record Opened(RequestId id, List<FileResult> files) implements Reply {
    public Opened {
      files = List.copyOf(files);
      for (int i = 0; i < files.size(); i++) { // by index: the broker makes one per request, and an iterator each
        if (files.get(i) instanceof FileResult.Found) {
          throw new IllegalArgumentException("an open reply holds grants and refusals, not stat results");
        }
      }
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

  /** The answer to a stat request: one {@link FileResult.Found} or {@link FileResult.Refused} per path, in request order. */
  record Stated(RequestId id, List<FileResult> files) implements Reply {
    public Stated {
      files = List.copyOf(files);
      for (int i = 0; i < files.size(); i++) { // by index, as in Opened
        if (files.get(i) instanceof FileResult.Granted) {
          throw new IllegalArgumentException("a stat reply carries no descriptors");
        }
      }
    }
  }

  /**
   * One page of a listing.
   *
   * @param cursor what to send for the next page; null when this is the last
   */
  record Listed(RequestId id, List<DirEntry> entries, String cursor) implements Reply {
    public Listed {
      entries = List.copyOf(entries);
    }
  }

  /**
   * The answer to a ping.
   *
   * @param maxPaths the most paths this broker accepts in one open or stat request
   * @param ops the operations this broker serves ({@link Request#OPS}); ["open", "ping"] from a
   *     broker that does not say
   */
  record Pong(RequestId id, String brokerVersion, int protocolVersion, int maxPaths, List<String> ops)
      implements Reply {
    /** What a broker that does not list its operations serves. */
    public static final List<String> FIRST_OPS = List.of("open", "ping");

    public Pong {
      ops = List.copyOf(ops);
    }

    /** A pong from a broker that serves every operation of {@link Request#OPS}. */
    public Pong(RequestId id, String brokerVersion, int protocolVersion, int maxPaths) {
      this(id, brokerVersion, protocolVersion, maxPaths, Request.OPS);
    }
  }

  /**
   * The whole request failed (bad_request, too_large, busy); or, for a list, the directory's own
   * refusal (denied, not_found, symlink, not_directory, io_error).
   */
  record Failed(RequestId id, ErrorCode error, String message) implements Reply {}
}
