package dev.fdbroker.broker.server;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Fairness between callers: how many connections each uid holds, and its request rate: a token
 * bucket that refills continuously and holds one second's worth (kept as the "generic cell rate
 * algorithm": the time at which the bucket would be full again). Keyed by the kernel's uid, so a
 * caller cannot dodge it by changing anything it sends.
 *
 * <p>Lock-free: every request of a uid's connections passes here, and with hundreds of serving
 * threads, a lock held by a thread that loses its CPU would stall them all behind it.
 */
final class UidLimiter {
  private static final long SECOND = 1_000_000_000L;

  private static final class State {
    final AtomicInteger connections = new AtomicInteger();
    /** Descriptors sent to the uid's connections and not yet seen received ({@link DescriptorBudget}). */
    final AtomicInteger inFlight = new AtomicInteger();
    /** When the bucket is full again (System.nanoTime()); at or before now: full. */
    final AtomicLong fullAt;

    State(long now) {
      fullAt = new AtomicLong(now);
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

    /** Connections the uid holds now. */
    int connections() {
      return state.connections.get();
    }

    /** The uid's descriptors in flight, counted by {@link DescriptorBudget}. */
    AtomicInteger inFlight() {
      return state.inFlight;
    }

    /** Takes one request's token at {@code now} (System.nanoTime()); false if the uid is over its rate. */
    boolean tryRequest(int rate, long now) {
      long cost = SECOND / Math.max(1, rate);
      while (true) {
        long fullAt = state.fullAt.get();
        long from = fullAt - now > 0 ? fullAt : now; // an empty-looking past is a full bucket
        long next = from + cost;
        if (next - now > SECOND) {
          return false; // taking this token would need more than the bucket holds
        }
        if (state.fullAt.compareAndSet(fullAt, next)) {
          return true;
        }
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
      state.connections.decrementAndGet();
      states.computeIfPresent(uid, (k, s) ->
          s.connections.get() <= 0 && s.fullAt.get() - System.nanoTime() <= 0 ? null : s);
    }
  }

  private final ConcurrentHashMap<Long, State> states = new ConcurrentHashMap<>();

  /** Counts a new connection for {@code uid}, unless it already holds {@code max}: then null. */
  Account admit(long uid, int max, int rate) {
    State[] admitted = {null};
    states.compute(uid, (k, s) -> {
      State state = s != null ? s : new State(System.nanoTime());
      if (state.connections.incrementAndGet() <= max) {
        admitted[0] = state;
      } else {
        state.connections.decrementAndGet();
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
