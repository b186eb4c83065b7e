package dev.fdbroker.protocol;

import java.util.List;

/** A request from a worker to the broker. */
public sealed interface Request permits Request.Open, Request.Ping {

  RequestId id();

  /** Open each path read-only and pass back a descriptor per granted file. */
  record Open(RequestId id, List<String> paths) implements Request {
    public Open {
      paths = List.copyOf(paths);
    }
  }

  /** Ask the broker for its version; also a cheap liveness check. */
  record Ping(RequestId id) implements Request {}
}
