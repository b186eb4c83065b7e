package dev.fdbroker.broker.server;

import dev.fdbroker.broker.policy.Caller;
import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.broker.systemd.CallerUnit;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client at the other end of one connection: who the kernel says it is, plus what the audit
 * log shows of it. Worked out on the connection's own thread, never the accepting one: the user
 * database and /proc can be slow.
 *
 * @param executable the caller's executable as /proc shows it when the connection is first
 *     served; best effort, null when unreadable (another user's process, without CAP_SYS_PTRACE)
 * @param unitRead whether the caller's systemd unit was looked for (only once a policy needs it)
 */
record Peer(long connection, Caller caller, String executable, boolean unitRead) {
  private static final Logger log = LoggerFactory.getLogger(Peer.class);

  /**
   * The peer of {@code socketFd}, from the credentials the kernel gave at accept ({@code kernel}:
   * uid, primary gid, pid): its supplementary groups, user name, executable and, if {@code
   * withUnit}, its unit.
   */
  static Peer of(long connection, int socketFd, Caller kernel, UserNames users, boolean withUnit) {
    long[] groups = Posix.peerGroups(socketFd);
    // Until it is read, the unit is unknown, never "none": were a request ever judged by a policy
    // naming units before the unit was read, the caller would be held to every unit's deny.
    Caller caller = new Caller(kernel.uid(), kernel.gid(), kernel.pid(), groups, users.nameOf(kernel.uid()), null,
        true);
    Peer peer = new Peer(connection, caller, executable(kernel.pid()), false);
    return withUnit ? peer.withUnit(socketFd) : peer;
  }

  /** This peer with its unit looked for: once, when a policy that names units first meets it. */
  Peer withUnit(int socketFd) {
    CallerUnit.Found found;
    try {
      found = CallerUnit.of(socketFd, caller.pid());
    } catch (RuntimeException | LinkageError e) {
      // Whatever failed, the caller's unit stays unknown, which can only take files away.
      log.warn("connection {}: reading the caller's unit failed: {}", connection, e.toString());
      found = new CallerUnit.Found.Unknown(e.toString());
    }
    String unit = found instanceof CallerUnit.Found.Unit u ? u.name() : null;
    boolean unknown = found instanceof CallerUnit.Found.Unknown;
    if (found instanceof CallerUnit.Found.Unknown u) {
      log.debug("connection {}: the caller's unit cannot be told: {}", connection, u.why());
    }
    return new Peer(connection, caller.withUnit(unit, unknown), executable, true);
  }

  private static String executable(long pid) {
    try {
      return Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "exe")).toString();
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }
}
