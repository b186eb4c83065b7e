package dev.fdbroker.broker.replay;

import dev.fdbroker.broker.policy.Caller;

/**
 * One decision read back from the audit log: who asked, for what, and what the policy in force
 * then answered. The answer is the policy's verdict on the path text ({@code "decision"}), not
 * whether a file was handed out: an allowed path the broker then could not or would not open (not
 * found, a symlink, owned by another under {@code owner: caller}) was still allowed.
 *
 * @param groups the supplementary groups; empty if none or not logged
 * @param user the user name, or null
 * @param unit the systemd unit, or null
 * @param identityLogged whether the line had the user, groups and unit fields at all (a broker
 *     before they were audited wrote none of them, and then they are taken to be none)
 * @param toSee whether it was a stat or a list, which may also see a directory on the way to an
 *     allowed path ({@link dev.fdbroker.broker.policy.Policy#decideToSee}), rather than an open
 * @param rule the rule that decided then, or null (default deny)
 */
record LoggedDecision(long uid, long gid, long pid, long[] groups, String user, String unit,
    boolean identityLogged, String path, boolean toSee, boolean allowed, String rule) {

  /** The caller as the broker saw it, for the new policy to judge. */
  Caller caller() {
    return new Caller(uid, gid, pid, groups, user, unit);
  }
}
