package dev.fdbroker.broker.policy;

import java.util.Arrays;

/**
 * Who is asking, as the kernel says, never as the request says: the uid, primary gid and pid of the
 * connection's peer (SO_PEERCRED), its supplementary groups (SO_PEERGROUPS), the user name the
 * user database gives that uid, and the systemd unit whose cgroup held the connecting process
 * (read through a pidfd, so a recycled pid cannot lend its unit). Taken once per connection.
 *
 * <p>The values a pattern's variables take are worked out here, once: a value that is missing,
 * empty, {@code .}, {@code ..} or holds a {@code /} is none, and a pattern that needs it matches
 * nothing, so no value can make a pattern reach outside the one component it stands in.
 */
public final class Caller {
  private static final long[] NO_GROUPS = new long[0];

  private final long uid;
  private final long gid;
  private final long pid;
  private final long[] groups;
  private final String user;
  private final String unit;
  private final boolean unitUnknown;
  /** Indexed by {@link Variable#ordinal()}; null where the caller has no usable value. */
  private final String[] values;

  /**
   * @param groups the supplementary groups, sorted (the primary gid need not be among them)
   * @param user the user name of {@code uid}, or null if it has none
   * @param unit the systemd unit, or null if the caller is in none
   */
  public Caller(long uid, long gid, long pid, long[] groups, String user, String unit) {
    this(uid, gid, pid, groups, user, unit, false);
  }

  /**
   * @param unitUnknown the caller may be in a unit, but which could not be learned (its connecting
   *     process was gone): a policy that names units refuses it everything ({@link Policy#decide})
   */
  public Caller(long uid, long gid, long pid, long[] groups, String user, String unit, boolean unitUnknown) {
    this.unitUnknown = unitUnknown && unit == null;
    this.uid = uid;
    this.gid = gid;
    this.pid = pid;
    this.groups = groups == null ? NO_GROUPS : groups.clone();
    Arrays.sort(this.groups);
    this.user = user;
    this.unit = unit;
    this.values = new String[Variable.values().length];
    values[Variable.UID.ordinal()] = Long.toString(uid);
    values[Variable.GID.ordinal()] = Long.toString(gid);
    values[Variable.USER.ordinal()] = usable(user);
    values[Variable.UNIT.ordinal()] = usable(unit);
    values[Variable.INSTANCE.ordinal()] = usable(instanceOf(unit));
  }

  /** A caller with no supplementary groups, no user name and no unit. */
  public Caller(long uid, long gid, long pid) {
    this(uid, gid, pid, NO_GROUPS, null, null);
  }

  public long uid() {
    return uid;
  }

  /** The primary gid. */
  public long gid() {
    return gid;
  }

  public long pid() {
    return pid;
  }

  /** The supplementary groups, sorted. */
  public long[] groups() {
    return groups.clone();
  }

  /** How many supplementary groups; with {@link #group(int)}, reads them without a copy. */
  public int groupCount() {
    return groups.length;
  }

  /** The {@code i}th supplementary group, in ascending order. */
  public long group(int i) {
    return groups[i];
  }

  /** The user name, or null. */
  public String user() {
    return user;
  }

  /** The systemd unit, such as {@code render-worker@tenant1.service}, or null. */
  public String unit() {
    return unit;
  }

  /** Whether the caller's unit was looked for and could not be learned (then {@link #unit()} is null). */
  public boolean unitUnknown() {
    return unitUnknown;
  }

  /** Whether {@code g} is the caller's primary group or one of its supplementary groups. */
  public boolean inGroup(long g) {
    return g == gid || Arrays.binarySearch(groups, g) >= 0;
  }

  /** What {@code v} stands for in this caller's patterns, or null if nothing may. */
  public String value(Variable v) {
    return values[v.ordinal()];
  }

  /**
   * The instance of a template unit: {@code tenant1} in {@code render-worker@tenant1.service}, null
   * for a unit that is not an instance (or no unit).
   */
  public static String instanceOf(String unit) {
    if (unit == null) {
      return null;
    }
    int at = unit.indexOf('@');
    int dot = unit.lastIndexOf('.');
    return at < 0 || dot <= at ? null : unit.substring(at + 1, dot);
  }

  private static String usable(String value) {
    if (value == null || value.isEmpty() || value.equals(".") || value.equals("..") || value.indexOf('/') >= 0
        || value.indexOf('\0') >= 0) {
      return null;
    }
    return value;
  }

  @Override
  public String toString() {
    return "uid " + uid + (user != null ? " (" + user + ")" : "") + ", gid " + gid
        + (groups.length > 0 ? ", groups " + Arrays.toString(groups) : "") + (unit != null ? ", unit " + unit : "") + (unitUnknown ? ", unit unknown" : "");
  }
}
