package dev.fdbroker.client.nio;

import dev.fdbroker.client.FileStat;
import java.io.IOException;
import java.net.URI;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.ProviderMismatchException;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;

/**
 * A path of a {@link BrokerFileSystem}: immutable, with the syntax and the semantics of a path on
 * Linux's own file system (java.nio's UnixPath), which the tests hold it to. Redundant slashes and
 * a trailing slash are dropped when it is made; {@code .} and {@code ..} stay until {@link
 * #normalize}. What is sent to the broker is {@link #brokerPath()}: absolute, normalized.
 *
 * <p>A path that came from a directory listing also carries the attributes the listing gave for
 * it, and when it was listed ({@link #listed()}); they take no part in equality.
 */
final class BrokerPath implements Path {
  private final BrokerFileSystem fs;
  /** Never "//" inside, never a trailing "/" but for the root itself; "" is the empty path. */
  private final String path;
  /** Where each name starts in {@link #path}: none for the root, one (0) for the empty path. */
  private final int[] offsets;
  private final FileStat listed;
  private final long listedAtNanos;

  private BrokerPath(BrokerFileSystem fs, String path, FileStat listed, long listedAtNanos) {
    this.fs = fs;
    this.path = path;
    this.offsets = offsets(path);
    this.listed = listed;
    this.listedAtNanos = listedAtNanos;
  }

  private BrokerPath(BrokerFileSystem fs, String normalizedSyntax) {
    this(fs, normalizedSyntax, null, 0);
  }

  /**
   * The path {@code input} spells.
   *
   * @throws InvalidPathException it holds a NUL, or half a surrogate pair (which no path on disk
   *     can hold, and which the broker could not be sent)
   */
  static BrokerPath parse(BrokerFileSystem fs, String input) {
    int n = input.length();
    StringBuilder sb = new StringBuilder(n);
    for (int i = 0; i < n; i++) {
      char c = input.charAt(i);
      if (c == '\0') {
        throw new InvalidPathException(input, "Nul character not allowed", i);
      }
      if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(input.charAt(i + 1))) {
        sb.append(c);
        c = input.charAt(++i);
      } else if (Character.isSurrogate(c)) {
        throw new InvalidPathException(input, "Unpaired surrogate", i);
      }
      if (c != '/' || sb.length() == 0 || sb.charAt(sb.length() - 1) != '/') {
        sb.append(c);
      }
    }
    if (sb.length() > 1 && sb.charAt(sb.length() - 1) == '/') {
      sb.setLength(sb.length() - 1);
    }
    return new BrokerPath(fs, sb.toString());
  }

  private static int[] offsets(String path) {
    if (path.isEmpty()) {
      return new int[] {0};
    }
    List<Integer> starts = new ArrayList<>();
    for (int i = 0; i < path.length(); i++) {
      if (path.charAt(i) != '/' && (i == 0 || path.charAt(i - 1) == '/')) {
        starts.add(i);
      }
    }
    return starts.stream().mapToInt(Integer::intValue).toArray();
  }

  /** {@code other} as a path of this provider, or {@link ProviderMismatchException}. */
  static BrokerPath of(Path other) {
    if (!(Objects.requireNonNull(other, "path") instanceof BrokerPath)) {
      throw new ProviderMismatchException("not an fdbroker path: " + other.getClass().getName());
    }
    return (BrokerPath) other;
  }

  /** The entry {@code name} of this directory, with the attributes its listing gave. */
  BrokerPath listedChild(FileStat entry, long nowNanos) {
    String name = entry.name();
    String child = path.isEmpty() ? name : path.equals("/") ? "/" + name : path + "/" + name;
    return new BrokerPath(fs, child, entry, nowNanos);
  }

  /** The attributes a listing gave for this path, or null if it did not come from one. */
  FileStat listed() {
    return listed;
  }

  /** When {@link #listed()} was listed, by {@link System#nanoTime()} or the file system's clock. */
  long listedAtNanos() {
    return listedAtNanos;
  }

  /** The path the broker is asked about: absolute and normalized, so canonical but for length. */
  String brokerPath() {
    return toAbsolutePath().normalize().path;
  }

  @Override
  public BrokerFileSystem getFileSystem() {
    return fs;
  }

  @Override
  public boolean isAbsolute() {
    return !path.isEmpty() && path.charAt(0) == '/';
  }

  private boolean isEmpty() {
    return path.isEmpty();
  }

  @Override
  public BrokerPath getRoot() {
    return isAbsolute() ? fs.root() : null;
  }

  @Override
  public BrokerPath getFileName() {
    int count = offsets.length;
    if (count == 0) {
      return null; // the root
    }
    if (count == 1 && !isAbsolute()) {
      return this;
    }
    return new BrokerPath(fs, path.substring(offsets[count - 1]));
  }

  @Override
  public BrokerPath getParent() {
    int count = offsets.length;
    if (count == 0) {
      return null;
    }
    int end = offsets[count - 1] - 1;
    if (end <= 0) {
      return getRoot();
    }
    return new BrokerPath(fs, path.substring(0, end));
  }

  @Override
  public int getNameCount() {
    return offsets.length;
  }

  @Override
  public BrokerPath getName(int index) {
    if (index < 0 || index >= offsets.length) {
      throw new IllegalArgumentException("no name " + index + " in " + this);
    }
    return new BrokerPath(fs, name(index));
  }

  private String name(int index) {
    int end = index + 1 < offsets.length ? offsets[index + 1] - 1 : path.length();
    return path.substring(offsets[index], end);
  }

  @Override
  public BrokerPath subpath(int beginIndex, int endIndex) {
    if (beginIndex < 0 || beginIndex >= offsets.length || endIndex > offsets.length || beginIndex >= endIndex) {
      throw new IllegalArgumentException("no names " + beginIndex + " to " + endIndex + " in " + this);
    }
    int end = endIndex < offsets.length ? offsets[endIndex] - 1 : path.length();
    return new BrokerPath(fs, path.substring(offsets[beginIndex], end));
  }

  private List<String> names() {
    List<String> names = new ArrayList<>(offsets.length);
    for (int i = 0; i < offsets.length; i++) {
      names.add(name(i));
    }
    return names;
  }

  /** Whether this path begins with the names of {@code other}, both absolute or both relative. */
  @Override
  public boolean startsWith(Path other) {
    if (!(Objects.requireNonNull(other) instanceof BrokerPath)) {
      return false;
    }
    BrokerPath that = (BrokerPath) other;
    if (that.isAbsolute() != isAbsolute() || that.offsets.length > offsets.length) {
      return false;
    }
    List<String> mine = names();
    return mine.subList(0, that.offsets.length).equals(that.names());
  }

  /**
   * Whether this path ends with {@code other}: equal to it if it is absolute, else ending with its
   * names. Only the empty path ends with the empty path.
   */
  @Override
  public boolean endsWith(Path other) {
    if (!(Objects.requireNonNull(other) instanceof BrokerPath)) {
      return false;
    }
    BrokerPath that = (BrokerPath) other;
    if (that.isEmpty() || isEmpty()) {
      return that.isEmpty() && isEmpty();
    }
    if (that.isAbsolute()) {
      return isAbsolute() && path.equals(that.path);
    }
    int skip = offsets.length - that.offsets.length;
    if (skip < 0) {
      return false;
    }
    List<String> mine = names();
    return mine.subList(skip, mine.size()).equals(that.names());
  }

  /**
   * Without {@code .} names, and with each {@code ..} taking out the name before it; a {@code ..}
   * at the start stays in a relative path, and is dropped from an absolute one ({@code /..} is
   * {@code /}). Purely textual: the broker never follows a symbolic link, so a name before a
   * {@code ..} that is a link would be refused anyway.
   */
  @Override
  public BrokerPath normalize() {
    if (offsets.length == 0 || isEmpty()) {
      return this;
    }
    boolean absolute = isAbsolute();
    List<String> kept = new ArrayList<>(offsets.length);
    boolean changed = false;
    for (String name : names()) {
      if (name.equals(".")) {
        changed = true;
      } else if (name.equals("..") && !kept.isEmpty() && !kept.get(kept.size() - 1).equals("..")) {
        kept.remove(kept.size() - 1);
        changed = true;
      } else if (name.equals("..") && absolute) {
        changed = true; // nothing above the root
      } else {
        kept.add(name);
      }
    }
    if (!changed) {
      return this;
    }
    String joined = String.join("/", kept);
    return new BrokerPath(fs, absolute ? "/" + joined : joined);
  }

  @Override
  public BrokerPath resolve(Path other) {
    BrokerPath that = of(other);
    if (that.isEmpty()) {
      return this;
    }
    if (that.isAbsolute() || isEmpty()) {
      return that.fs == fs ? that.withoutListing() : new BrokerPath(fs, that.path);
    }
    return new BrokerPath(fs, path.equals("/") ? "/" + that.path : path + "/" + that.path);
  }

  private BrokerPath withoutListing() {
    return listed == null ? this : new BrokerPath(fs, path);
  }

  /**
   * The path that leads from this one to {@code other}, as java.nio's UnixPath computes it: both
   * must be absolute, or both relative; if either holds {@code .} or {@code ..} both are normalized
   * first; a {@code ..} left in the part of this path that {@code other} does not share cannot be
   * undone, and is an {@link IllegalArgumentException}.
   */
  @Override
  public BrokerPath relativize(Path other) {
    BrokerPath child = of(other);
    if (child.path.equals(path)) {
      return fs.emptyPath();
    }
    if (isAbsolute() != child.isAbsolute()) {
      throw new IllegalArgumentException("'other' is different type of Path");
    }
    if (isEmpty()) {
      return child;
    }
    BrokerPath base = this;
    if (base.hasDotOrDotDot() || child.hasDotOrDotDot()) {
      base = base.normalize();
      child = child.normalize();
    }
    List<String> baseNames = base.names();
    List<String> childNames = child.names();
    int shared = 0;
    while (shared < Math.min(baseNames.size(), childNames.size())
        && baseNames.get(shared).equals(childNames.get(shared))) {
      shared++;
    }
    String childRest = shared == childNames.size() ? ""
        : child.subpath(shared, childNames.size()).path;
    if (shared == baseNames.size()) {
      return new BrokerPath(fs, childRest);
    }
    BrokerPath baseRest = base.subpath(shared, baseNames.size());
    if (baseRest.hasDotOrDotDot()) {
      throw new IllegalArgumentException("Unable to compute relative path from " + this + " to " + other);
    }
    if (baseRest.isEmpty()) {
      return new BrokerPath(fs, childRest);
    }
    StringBuilder up = new StringBuilder();
    for (int i = 0; i < baseRest.offsets.length; i++) {
      up.append(i == 0 ? ".." : "/..");
    }
    if (!childRest.isEmpty()) {
      up.append('/').append(childRest);
    }
    return new BrokerPath(fs, up.toString());
  }

  private boolean hasDotOrDotDot() {
    for (String name : names()) {
      if (name.equals(".") || name.equals("..")) {
        return true;
      }
    }
    return false;
  }

  /**
   * {@code fdbroker:SOCKET!PATH}, with this path made absolute; {@link
   * BrokerFileSystemProvider#getPath(URI)} makes it a path again, if the file system was opened
   * with {@link java.nio.file.FileSystems#newFileSystem(URI, java.util.Map)}.
   */
  @Override
  public URI toUri() {
    return BrokerUris.of(fs.socket(), toAbsolutePath().path);
  }

  /** Against the root, the only directory a broker's file system has to start from. */
  @Override
  public BrokerPath toAbsolutePath() {
    if (isAbsolute()) {
      return this;
    }
    return new BrokerPath(fs, "/" + path);
  }

  /**
   * The absolute, normalized path, once the broker has said that it exists. A symbolic link is
   * never followed, with or without {@link LinkOption#NOFOLLOW_LINKS}: the broker never follows
   * one, so a path it describes has none before its last name, and one as its last name is
   * returned as it is.
   */
  @Override
  public BrokerPath toRealPath(LinkOption... options) throws IOException {
    BrokerPath real = toAbsolutePath().normalize();
    fs.attributes(real);
    return real;
  }

  @Override
  public WatchKey register(WatchService watcher, WatchEvent.Kind<?>[] events, WatchEvent.Modifier... modifiers) {
    throw new UnsupportedOperationException("fdbroker paths cannot be watched");
  }

  @Override
  public Iterator<Path> iterator() {
    List<Path> names = new ArrayList<>(offsets.length);
    for (int i = 0; i < offsets.length; i++) {
      names.add(getName(i));
    }
    return names.iterator();
  }

  /** By code point, as a path's UTF-8 bytes compare. */
  @Override
  public int compareTo(Path other) {
    String that = ((BrokerPath) other).path;
    int i = 0;
    int j = 0;
    while (i < path.length() && j < that.length()) {
      int a = path.codePointAt(i);
      int b = that.codePointAt(j);
      if (a != b) {
        return Integer.compare(a, b);
      }
      i += Character.charCount(a);
      j += Character.charCount(b);
    }
    return Integer.compare(path.length() - i, that.length() - j);
  }

  /** The same text in the same file system; attributes from a listing do not count. */
  @Override
  public boolean equals(Object o) {
    return o instanceof BrokerPath && ((BrokerPath) o).fs == fs && ((BrokerPath) o).path.equals(path);
  }

  @Override
  public int hashCode() {
    return path.hashCode();
  }

  @Override
  public String toString() {
    return path;
  }
}
