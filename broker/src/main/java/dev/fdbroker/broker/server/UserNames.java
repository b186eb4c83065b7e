package dev.fdbroker.broker.server;

import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.broker.posix.PosixException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The user names of callers' uids, from the user database, remembered for a minute: a crowd of
 * connections from one uid looks it up once, and a renamed or new user is seen within a minute. A
 * failed lookup (a directory service down) is remembered for five seconds, so that it is not
 * retried, and waited for, by every new connection. Bounded: it is emptied when full.
 */
final class UserNames {
  private static final long TTL_NANOS = TimeUnit.SECONDS.toNanos(60);
  private static final long FAILED_TTL_NANOS = TimeUnit.SECONDS.toNanos(5);
  private static final int MAX_ENTRIES = 4096;

  /** @param name null if the uid has no user */
  private record Known(String name, long expires) {}

  private final ConcurrentHashMap<Long, Known> known = new ConcurrentHashMap<>();

  /** The user name of {@code uid}, or null if it has none (or the database cannot be read). */
  String nameOf(long uid) {
    long now = System.nanoTime();
    Known k = known.get(uid);
    if (k != null && k.expires() - now > 0) {
      return k.name();
    }
    String name;
    long ttl = TTL_NANOS;
    try {
      name = Posix.userById(uid).map(Posix.PasswdEntry::name).orElse(null);
    } catch (PosixException | RuntimeException e) {
      name = null;
      ttl = FAILED_TTL_NANOS;
    }
    if (known.size() >= MAX_ENTRIES) {
      known.clear();
    }
    known.put(uid, new Known(name, now + ttl));
    return name;
  }
}
