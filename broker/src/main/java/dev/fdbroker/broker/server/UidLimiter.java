package dev.fdbroker.broker.server;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Fairness between callers: how many connections each uid holds, and a token bucket for its
 * request rate (refilled continuously, holding at most one second's worth). Keyed by the kernel's
 * uid, so a caller cannot dodge it by changing anything it sends.
 */
final class UidLimiter {
  private static final class State {
    int connections;
    double tokens;
    long refilledAt;
    int rate;

    State(int rate, long now) {
      this.rate = rate;
      this.tokens = rate;
      this.refilledAt = now;
    }

    void refill(int currentRate, long now) {
      rate = currentRate;
      tokens = Math.min(rate, tokens + (now - refilledAt) * (rate / 1e9));
      refilledAt = now;
    }
  }

  private final ConcurrentHashMap<Long, State> states = new ConcurrentHashMap<>();

  /** Counts a new connection for {@code uid}, unless it already holds {@code max}. */
  boolean admit(long uid, int max, int rate) {
    boolean[] admitted = {false};
    states.compute(uid, (k, s) -> {
      State state = s != null ? s : new State(rate, System.nanoTime());
      if (state.connections < max) {
        state.connections++;
        admitted[0] = true;
      }
      return state;
    });
    return admitted[0];
  }

  /**
   * Forgets a connection. The uid's state goes once it holds no connection and its bucket is full
   * again, so reconnecting never buys a fresh bucket.
   */
  void release(long uid) {
    states.computeIfPresent(uid, (k, s) -> {
      synchronized (s) {
        s.connections--;
        s.refill(s.rate, System.nanoTime());
        return s.connections <= 0 && s.tokens >= s.rate ? null : s;
      }
    });
  }

  /** Takes one request's token for {@code uid}; false if it is over its rate. */
  boolean tryRequest(long uid, int rate) {
    State s = states.get(uid);
    if (s == null) {
      return true; // not a counted connection (cannot happen while one is open)
    }
    synchronized (s) {
      s.refill(rate, System.nanoTime());
      if (s.tokens >= 1) {
        s.tokens -= 1;
        return true;
      }
      return false;
    }
  }

  /** Uids being tracked (for tests and leak checks). */
  int tracked() {
    return states.size();
  }
}
