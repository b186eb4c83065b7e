package dev.fdbroker.protocol;

/** A request from a worker to the broker. */
public sealed interface Request permits Request.Open, Request.Stat, Request.List, Request.Ping {

  RequestId id();

  /** Open each path read-only and pass back a descriptor per granted file. */
  record Open(RequestId id, java.util.List<String> paths) implements Request {
    public Open {
      paths = java.util.List.copyOf(paths);
    }
  }

  /** Describe each path (type, size, modification time, mode) without opening anything for reading. */
  record Stat(RequestId id, java.util.List<String> paths) implements Request {
    public Stat {
      paths = java.util.List.copyOf(paths);
    }
  }

  /**
   * One page of a directory's entries that the caller may see.
   *
   * @param cursor where the previous page ended, as the broker said it; null for the first page
   */
  record List(RequestId id, String path, String cursor) implements Request {}

  /** Ask the broker for its version and operations; also a cheap liveness check. */
  record Ping(RequestId id) implements Request {}

  /** The operations of protocol v1 as they are named on the wire, in the order ping lists them. */
  java.util.List<String> OPS = java.util.List.of("open", "stat", "list", "ping");

  /** The wire name of this request's operation. */
  default String op() {
    if (this instanceof Open) {
      return "open";
    } else if (this instanceof Stat) {
      return "stat";
    } else if (this instanceof List) {
      return "list";
    }
    return "ping";
  }
}
