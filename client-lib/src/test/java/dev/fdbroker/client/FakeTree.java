package dev.fdbroker.client;

import dev.fdbroker.protocol.DirEntry;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.FileResult;
import dev.fdbroker.protocol.FileType;
import dev.fdbroker.protocol.PathSyntax;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.ReplyCodec;
import dev.fdbroker.protocol.Request;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A broker's view of a file tree, served by a {@link FakeBroker} as the real broker would serve
 * it: open, stat and list (in pages of {@link #pageSize}, the cursor an index), ping. A denied path
 * is denied with everything under it and never listed; a path through a link is refused {@code
 * symlink}; files are passed as descriptors of real files holding their content. Counts the
 * requests of each op, and can say {@code busy} to the first few of one.
 */
public final class FakeTree {
  /** The modification time of every node: 2024-12-03T12:46:40.123456789Z. */
  public static final long MTIME_NS = 1_733_230_000_123_456_789L;

  private enum Kind { FILE, DIR, SYMLINK, OTHER }

  private record Node(Kind kind, Path content, long size, int mode) {}

  private final Path storage;
  private final Map<String, Node> nodes = new ConcurrentHashMap<>();
  private final Map<String, Boolean> denied = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> requests = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> busyFor = new ConcurrentHashMap<>();
  private volatile int pageSize = 100;
  private volatile String vanishedAfterFirstPage;
  private final AtomicInteger files = new AtomicInteger();

  /** @param storage a directory for the files' contents */
  public FakeTree(Path storage) {
    this.storage = storage;
    nodes.put("/", new Node(Kind.DIR, null, 0, 0755));
  }

  public FakeTree file(String path, String content) throws IOException {
    return file(path, content.getBytes(StandardCharsets.UTF_8));
  }

  public FakeTree file(String path, byte[] content) throws IOException {
    Path stored = storage.resolve("content-" + files.incrementAndGet());
    Files.write(stored, content);
    return add(path, new Node(Kind.FILE, stored, content.length, 0644));
  }

  public FakeTree dir(String path) {
    return add(path, new Node(Kind.DIR, null, 0, 0755));
  }

  public FakeTree symlink(String path) {
    return add(path, new Node(Kind.SYMLINK, null, 0, 0777));
  }

  /** A FIFO, socket or device. */
  public FakeTree other(String path) {
    return add(path, new Node(Kind.OTHER, null, 0, 0600));
  }

  /** Denies the path and everything under it, as a deny pattern {@code path/**} and {@code path} would. */
  public FakeTree deny(String path) {
    denied.put(path, true);
    return this;
  }

  /** How many entries a page of a listing holds. */
  public FakeTree pageSize(int n) {
    pageSize = n;
    return this;
  }

  /** The first {@code n} requests of {@code op} are refused {@code busy}, as a broker at its limit does. */
  public FakeTree busyFor(String op, int n) {
    busyFor.put(op, new AtomicInteger(n));
    return this;
  }

  /** Pages after the first of this directory's listing find it gone ({@code not_found}). */
  public FakeTree vanishesAfterFirstPage(String dir) {
    vanishedAfterFirstPage = dir;
    return this;
  }

  /** Requests of {@code op} served so far. */
  public int requests(String op) {
    AtomicInteger n = requests.get(op);
    return n == null ? 0 : n.get();
  }

  private FakeTree add(String path, Node node) {
    int slash = path.lastIndexOf('/');
    String parent = slash == 0 ? "/" : path.substring(0, slash);
    if (!nodes.containsKey(parent)) {
      dir(parent);
    }
    nodes.put(path, node);
    return this;
  }

  /** The script that serves this tree on every connection. */
  public FakeBroker.Script script() {
    return this::serve;
  }

  private void serve(FakeBroker.Conn c) throws IOException {
    Request r;
    while ((r = c.next()) != null) {
      requests.computeIfAbsent(r.op(), k -> new AtomicInteger()).incrementAndGet();
      AtomicInteger busy = busyFor.get(r.op());
      if (busy != null && busy.getAndDecrement() > 0) {
        c.send(ReplyCodec.encode(new Reply.Failed(r.id(), ErrorCode.BUSY, "too many requests")), null);
        continue;
      }
      if (r instanceof Request.Ping) {
        c.send(ReplyCodec.encode(new Reply.Pong(r.id(), "0.0.0-fake", 1, 64)), null);
      } else if (r instanceof Request.Stat) {
        List<FileResult> results = new ArrayList<>();
        for (String p : ((Request.Stat) r).paths()) {
          results.add(stat(p));
        }
        c.send(ReplyCodec.encode(new Reply.Stated(r.id(), results)), null);
      } else if (r instanceof Request.Open) {
        List<FileResult> results = new ArrayList<>();
        List<Path> contents = new ArrayList<>();
        for (String p : ((Request.Open) r).paths()) {
          FileResult found = stat(p);
          if (found instanceof FileResult.Found && ((FileResult.Found) found).type() == FileType.FILE) {
            Node n = nodes.get(p);
            results.add(new FileResult.Granted(p, contents.size(), n.size(), MTIME_NS, n.mode()));
            contents.add(n.content());
          } else if (found instanceof FileResult.Found) {
            FileType type = ((FileResult.Found) found).type();
            results.add(type == FileType.SYMLINK
                ? new FileResult.Refused(p, ErrorCode.SYMLINK, "a component of the path is a symbolic link")
                : new FileResult.Refused(p, ErrorCode.NOT_REGULAR, "not a regular file: it is a " + type));
          } else {
            results.add(found);
          }
        }
        c.sendWith(ReplyCodec.encode(new Reply.Opened(r.id(), results)), contents);
      } else {
        c.send(ReplyCodec.encode(list((Request.List) r)), null);
      }
    }
  }

  /** What a stat of {@code path} answers: denied first, then the walk down to it. */
  private FileResult stat(String path) {
    String problem = PathSyntax.problem(path);
    if (problem != null) {
      return new FileResult.Refused(path, ErrorCode.BAD_REQUEST, problem);
    }
    if (isDenied(path)) {
      return new FileResult.Refused(path, ErrorCode.DENIED, "not allowed by policy");
    }
    for (String ancestor : ancestors(path)) {
      Node n = nodes.get(ancestor);
      if (n == null || n.kind() == Kind.FILE || n.kind() == Kind.OTHER) {
        return new FileResult.Refused(path, ErrorCode.NOT_FOUND, "no such file or directory");
      }
      if (n.kind() == Kind.SYMLINK) {
        return new FileResult.Refused(path, ErrorCode.SYMLINK, "a component of the path is a symbolic link");
      }
    }
    Node n = nodes.get(path);
    if (n == null) {
      return new FileResult.Refused(path, ErrorCode.NOT_FOUND, "no such file or directory");
    }
    return new FileResult.Found(path, type(n.kind()), n.kind() == Kind.FILE ? n.size() : FileResult.UNKNOWN,
        MTIME_NS, n.mode());
  }

  private Reply list(Request.List r) {
    FileResult found = stat(r.path());
    if (found instanceof FileResult.Refused) {
      FileResult.Refused refused = (FileResult.Refused) found;
      return new Reply.Failed(r.id(), refused.error(), refused.message());
    }
    FileType type = ((FileResult.Found) found).type();
    if (type == FileType.SYMLINK) {
      return new Reply.Failed(r.id(), ErrorCode.SYMLINK, "a component of the path is a symbolic link");
    }
    if (type != FileType.DIRECTORY) {
      return new Reply.Failed(r.id(), ErrorCode.NOT_DIRECTORY, "not a directory: it is a " + type);
    }
    if (r.cursor() != null && r.path().equals(vanishedAfterFirstPage)) {
      return new Reply.Failed(r.id(), ErrorCode.NOT_FOUND, "no such file or directory");
    }
    List<DirEntry> all = new ArrayList<>();
    for (Map.Entry<String, Node> e : new TreeMap<>(nodes).entrySet()) {
      String p = e.getKey();
      if (!p.equals("/") && parent(p).equals(r.path()) && !isDenied(p)) {
        Node n = e.getValue();
        all.add(new DirEntry(p.substring(p.lastIndexOf('/') + 1), type(n.kind()),
            n.kind() == Kind.FILE ? n.size() : FileResult.UNKNOWN, MTIME_NS, n.mode()));
      }
    }
    int from = r.cursor() == null ? 0 : Integer.parseInt(r.cursor());
    int to = Math.min(all.size(), from + pageSize);
    return new Reply.Listed(r.id(), all.subList(from, to), to == all.size() ? null : Integer.toString(to));
  }

  private boolean isDenied(String path) {
    for (String d : denied.keySet()) {
      if (path.equals(d) || path.startsWith(d.equals("/") ? "/" : d + "/")) {
        return true;
      }
    }
    return false;
  }

  private static String parent(String path) {
    int slash = path.lastIndexOf('/');
    return slash == 0 ? "/" : path.substring(0, slash);
  }

  /** The directories above {@code path}, root first, without the path itself. */
  private static List<String> ancestors(String path) {
    List<String> out = new ArrayList<>();
    for (int i = path.indexOf('/', 1); i > 0; i = path.indexOf('/', i + 1)) {
      out.add(path.substring(0, i));
    }
    return out;
  }

  private static FileType type(Kind kind) {
    switch (kind) {
      case FILE:
        return FileType.FILE;
      case DIR:
        return FileType.DIRECTORY;
      case SYMLINK:
        return FileType.SYMLINK;
      default:
        return FileType.OTHER;
    }
  }
}
