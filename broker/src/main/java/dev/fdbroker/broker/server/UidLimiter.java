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

  /** One admitted connection's share of its uid's limits. */
  final class Account {
    private final long uid;
    private final State state;
    private boolean released;

    private Account(long uid, State state) {
      this.uid = uid;
      this.state = state;
    }

    /** Takes one request's token; false if the uid is over its rate. */
    boolean tryRequest(int rate) {
      synchronized (state) {
        state.refill(rate, System.nanoTime());
        if (state.tokens >= 1) {
          state.tokens -= 1;
          return true;
        }
        return false;
      }
    }

    /**
     * Forgets the connection. The uid's state goes once it holds no connection and its bucket is
     * full again, so reconnecting never buys a fresh bucket.
     */
    void release() {
      if (released) {
        return;
      }
      released = true;
      states.computeIfPresent(uid, (k, s) -> {
        synchronized (s) {
          s.connections--;
          s.refill(s.rate, System.nanoTime());
          return s.connections <= 0 && s.tokens >= s.rate ? null : s;
        }
      });
    }
  }

  private final ConcurrentHashMap<Long, State> states = new ConcurrentHashMap<>();

  /** Counts a new connection for {@code uid}, unless it already holds {@code max}: then null. */
  Account admit(long uid, int max, int rate) {
    State[] admitted = {null};
    states.compute(uid, (k, s) -> {
      State state = s != null ? s : new State(rate, System.nanoTime());
      synchronized (state) {
        if (state.connections < max) {
          state.connections++;
          admitted[0] = state;
        }
      }
      return state;
    });
    return admitted[0] == null ? null : new Account(uid, admitted[0]);
  }

  /** Uids being tracked (for tests and leak checks). */
  int tracked() {
    return states.size();
  }
}
