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
   * @param unitUnknown whether the caller's unit could not be told (then {@code unit} is null)
   */
  public Caller(long uid, long gid, long pid, long[] groups, String user, String unit, boolean unitUnknown) {
    this.uid = uid;
    this.gid = gid;
    this.pid = pid;
    this.groups = groups == null ? NO_GROUPS : groups.clone();
    Arrays.sort(this.groups);
    this.user = user;
    this.unit = unitUnknown ? null : unit;
    this.unitUnknown = unitUnknown;
    this.values = new String[Variable.values().length];
    values[Variable.UID.ordinal()] = Long.toString(uid);
    values[Variable.GID.ordinal()] = Long.toString(gid);
    values[Variable.USER.ordinal()] = usable(user);
    values[Variable.UNIT.ordinal()] = usable(this.unit);
    values[Variable.INSTANCE.ordinal()] = usable(instanceOf(this.unit));
  }

  /**
   * This caller, its unit now looked for: {@code unit}, or none if null, or {@code unknown}. The
   * rest is shared, not worked out again.
   */
  public Caller withUnit(String unit, boolean unknown) {
    return new Caller(this, unit, unknown);
  }

  private Caller(Caller c, String unit, boolean unitUnknown) {
    this.uid = c.uid;
    this.gid = c.gid;
    this.pid = c.pid;
    this.groups = c.groups;
    this.user = c.user;
    this.unit = unitUnknown ? null : unit;
    this.unitUnknown = unitUnknown;
    this.values = c.values.clone();
    values[Variable.UNIT.ordinal()] = usable(this.unit);
    values[Variable.INSTANCE.ordinal()] = usable(instanceOf(this.unit));
  }

  /** A caller whose unit is known ({@code unit}, or none if null). */
  public Caller(long uid, long gid, long pid, long[] groups, String user, String unit) {
    this(uid, gid, pid, groups, user, unit, false);
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

  /**
   * Whether the caller's unit could not be told: the process that connected was gone before its
   * cgroup was read, or the cgroup cannot be read here. Such a caller gets no allow that depends on
   * a unit, and is held to every deny that might (see {@link Policy#decide}).
   */
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
        + (groups.length > 0 ? ", groups " + Arrays.toString(groups) : "")
        + (unit != null ? ", unit " + unit : "") + (unitUnknown ? ", unit unknown" : "");
  }
}
