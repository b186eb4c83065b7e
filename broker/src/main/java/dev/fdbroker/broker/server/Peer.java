package dev.fdbroker.broker.server;

import dev.fdbroker.broker.policy.Caller;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The client at the other end of one connection: the kernel's credentials, plus what the audit
 * log shows of it.
 *
 * @param executable the caller's executable as /proc shows it when the connection is accepted;
 *     best effort, null when unreadable (another user's process, without CAP_SYS_PTRACE)
 */
record Peer(long connection, Caller caller, String executable) {

  static Peer of(long connection, Caller caller) {
    String exe;
    try {
      exe = Files.readSymbolicLink(Path.of("/proc", Long.toString(caller.pid()), "exe")).toString();
    } catch (IOException | RuntimeException e) {
      exe = null;
    }
    return new Peer(connection, caller, exe);
  }
}
