package dev.fdbroker.broker.server;

import dev.fdbroker.broker.policy.Limits;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Descriptors in flight: sent to clients and not yet received by them. The kernel charges each one
 * to the sending user (the broker's) until the client receives it or closes its socket, and once
 * that user holds more than its RLIMIT_NOFILE it refuses every send that carries descriptors
 * (ETOOMANYREFS), for every caller alike. A client that never reads could so lock everyone out:
 * one uid did, with 17 connections that asked for 64 files each and never read.
 *
 * <p>So the broker keeps its own count, below the kernel's: a reply that would put a uid over
 * {@code max_descriptors_in_flight_per_uid}, or everyone over {@code max_descriptors_in_flight}, is
 * answered {@code busy} instead (the caller reads what it holds, and asks again). A reply's charge
 * is taken when it is sent and given back once its connection's socket shows the client has read
 * everything (SIOCOUTQ is 0; the kernel has then let go of the descriptors too).
 *
 * <p>The total is held to half of RLIMIT_NOFILE, whatever the policy says: descriptors a previous
 * broker sent that are still unread (after a restart) are charged to the same user, and this
 * broker cannot see them. Lock-free, as everything on the request path.
 */
final class DescriptorBudget {
  private final AtomicInteger total = new AtomicInteger();
  /** Half the process's RLIMIT_NOFILE (the kernel's bound for the whole user is the soft limit). */
  private final int ceiling;

  DescriptorBudget(long rlimitNofile) {
    this.ceiling = (int) Math.min(Integer.MAX_VALUE, Math.max(1, rlimitNofile / 2));
  }

  /** The total the broker holds to under these limits: the policy's, or half RLIMIT_NOFILE if less. */
  int totalLimit(Limits limits) {
    return Math.min(limits.maxDescriptorsInFlight(), ceiling);
  }

  /** A warning if the policy's total does not fit under RLIMIT_NOFILE, else null. */
  String fit(Limits limits) {
    if (limits.maxDescriptorsInFlight() <= ceiling) {
      return null;
    }
    return "limits.max_descriptors_in_flight is " + limits.maxDescriptorsInFlight() + ", more than half the broker's"
        + " RLIMIT_NOFILE (" + (2L * ceiling) + "); holding descriptors in flight to " + ceiling
        + " (raise LimitNOFILE= in fdbroker.service, or lower the limit)";
  }

  /** Takes {@code n} for one reply of {@code account}'s uid; false (nothing taken) if over a limit. */
  boolean take(UidLimiter.Account account, int n, Limits limits) {
    if (!takeFrom(account.inFlight(), n, limits.maxDescriptorsInFlightPerUid())) {
      return false;
    }
    if (!takeFrom(total, n, totalLimit(limits))) {
      account.inFlight().addAndGet(-n);
      return false;
    }
    return true;
  }

  /** Gives back {@code n} taken for {@code account}'s uid: received by the client, or never sent. */
  void release(UidLimiter.Account account, int n) {
    if (n > 0) {
      account.inFlight().addAndGet(-n);
      total.addAndGet(-n);
    }
  }

  /** Descriptors sent and not yet seen received, by everyone. */
  int inFlight() {
    return total.get();
  }

  private static boolean takeFrom(AtomicInteger counter, int n, int limit) {
    while (true) {
      int held = counter.get();
      if (held + n > limit) {
        return false;
      }
      if (counter.compareAndSet(held, held + n)) {
        return true;
      }
    }
  }
}
