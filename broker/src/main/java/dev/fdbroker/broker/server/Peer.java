package dev.fdbroker.broker.server;

import dev.fdbroker.broker.policy.Caller;
import dev.fdbroker.broker.systemd.CallerUnit;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

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

  /**
   * The peer of {@code socketFd}, from the credentials the kernel gave at accept ({@code kernel}:
   * uid, primary gid, pid): its supplementary groups, user name, executable and, if {@code
   * withUnit}, its unit.
   */
  static Peer of(long connection, int socketFd, Caller kernel, UserNames users, boolean withUnit) {
    long[] groups = dev.fdbroker.broker.posix.Posix.peerGroups(socketFd);
    CallerUnit.Found unit = withUnit ? CallerUnit.lookup(socketFd, kernel.pid()) : new CallerUnit.Found(null, false);
    Caller caller = new Caller(kernel.uid(), kernel.gid(), kernel.pid(), groups, users.nameOf(kernel.uid()), unit.unit(),
        unit.unknown());
    return new Peer(connection, caller, executable(kernel.pid()), withUnit);
  }

  /** This peer with its unit looked for: once, when a policy that names units first meets it. */
  Peer withUnit(int socketFd) {
    Caller c = caller;
    CallerUnit.Found unit = CallerUnit.lookup(socketFd, c.pid());
    return new Peer(connection, new Caller(c.uid(), c.gid(), c.pid(), c.groups(), c.user(), unit.unit(), unit.unknown()),
        executable, true);
  }

  private static String executable(long pid) {
    try {
      return Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "exe")).toString();
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }
}
