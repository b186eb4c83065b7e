package dev.fdbroker.broker.server;

import dev.fdbroker.broker.audit.AuditEvent;
import dev.fdbroker.broker.audit.WallClock;
import dev.fdbroker.broker.metrics.BrokerMetrics;
import dev.fdbroker.broker.metrics.BrokerMetrics.Op;
import dev.fdbroker.broker.metrics.BrokerMetrics.Outcome;
import dev.fdbroker.broker.opener.DirectoryOutcome;
import dev.fdbroker.broker.opener.DirectoryReader;
import dev.fdbroker.broker.opener.SecureOpener;
import dev.fdbroker.broker.policy.Caller;
import dev.fdbroker.broker.policy.Decision;
import dev.fdbroker.broker.policy.Policy;
import dev.fdbroker.broker.posix.FileStat;
import dev.fdbroker.broker.posix.PosixException;
import dev.fdbroker.protocol.DirEntry;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.PathSyntax;
import dev.fdbroker.protocol.ProtocolLimits;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.ReplyCodec;
import dev.fdbroker.protocol.Request;
import java.util.ArrayList;
import java.util.List;

/**
 * Answers list requests, a page at a time: the directory decided ({@link Policy#decideToSee}) and
 * opened from its pin, its entries read from the cursor's position, each entry judged by the
 * policy as a path of its own, until the page is full or {@value #MAX_EXAMINED} entries were read
 * (those skipped unseen included).
 * Nothing outlives the request: the next page opens the directory again, so a client that never
 * comes back costs nothing, and a page costs at most one frame of memory.
 */
final class DirectoryLister {
  /**
   * The most entries one page reads. A directory where the caller may see little (100,000 entries,
   * ten of them allowed) then costs many short requests, each as long as a few thousand policy
   * decisions, rather than one that holds its serving thread for all of them.
   */
  static final int MAX_EXAMINED = 4096;

  private final SecureOpener opener;
  private final BrokerMetrics metrics;
  private final ListCursor.Seal seal = ListCursor.Seal.fromEnvironment();

  DirectoryLister(SecureOpener opener, BrokerMetrics metrics) {
    this.opener = opener;
    this.metrics = metrics;
  }

  Response list(Policy snapshot, Peer peer, Request.List request, long start) {
    Page page = page(snapshot, peer.caller(), request);
    long t1 = System.nanoTime();
    AuditEvent event = new AuditEvent(WallClock.epochNanos(t1), peer.connection(), peer.caller(),
        peer.executable(), "list", request.path(), page.decision(), page.rule(),
        page.reply() instanceof Reply.Failed f ? f.error().wireName() : null, (t1 - start) / 1000);
    if (page.reply() instanceof Reply.Failed f) {
      if (f.error() != ErrorCode.BAD_REQUEST) {
        metrics.fileRefused(f.error());
      }
      return Response.of(f, Op.LIST, f.error() == ErrorCode.BAD_REQUEST ? Outcome.BAD_REQUEST : Outcome.OK)
          .withAudit(List.of(event));
    }
    metrics.entriesListed(((Reply.Listed) page.reply()).entries().size());
    return Response.of(page.reply(), Op.LIST, Outcome.OK).withAudit(List.of(event));
  }

  /** The reply, and the policy's verdict and rule on the directory for the audit log. */
  private record Page(Reply reply, String decision, String rule) {}

  private Page page(Policy snapshot, Caller caller, Request.List request) {
    String path = request.path();
    String problem = PathSyntax.problem(path);
    if (problem != null) {
      return new Page(failed(request, ErrorCode.BAD_REQUEST, problem), "invalid", null);
    }
    // Decided before touching the filesystem, as for open.
    Decision decision = snapshot.decideToSee(caller, path);
    String rule = decision.ruleName();
    metrics.decision(decision.allowed(), rule);
    if (!decision.allowed()) {
      return new Page(failed(request, ErrorCode.DENIED, RequestHandler.DENIED_MESSAGE), "deny", rule);
    }
    ListCursor cursor = null;
    if (request.cursor() != null) {
      cursor = seal.open(request.cursor());
      if (cursor == null) {
        return new Page(failed(request, ErrorCode.BAD_REQUEST, "\"cursor\" is not one this broker gave"
            + " (a broker restarted since forgets its cursors: list again from the start)"), "allow", rule);
      }
    }
    return switch (opener.openDirectory(path)) {
      case DirectoryOutcome.Refused r -> new Page(refused(request, decision, r), "allow", rule);
      case DirectoryOutcome.Opened o -> {
        try (DirectoryReader reader = o.reader()) {
          yield new Page(read(snapshot, caller, request, decision, cursor, reader), "allow", rule);
        }
      }
    };
  }

  /**
   * A directory that cannot be listed. One the caller may only pass through answers as a stat of it
   * would: what is not a directory is not there.
   */
  private static Reply refused(Request.List request, Decision decision, DirectoryOutcome.Refused r) {
    if (decision instanceof Decision.Traversable && r.code() == ErrorCode.NOT_DIRECTORY) {
      return failed(request, ErrorCode.NOT_FOUND, "no such file");
    }
    return failed(request, r.code(), r.message());
  }

  private Reply read(Policy snapshot, Caller caller, Request.List request, Decision decision,
      ListCursor cursor, DirectoryReader reader) {
    String path = request.path();
    FileStat dir = reader.stat();
    if (Sight.of(snapshot, caller, path, decision, dir) == Sight.OTHERS_FILE) {
      return failed(request, ErrorCode.DENIED, SecureOpener.OWNER_MESSAGE);
    }
    if (cursor != null) {
      if (cursor.inode() != dir.inode() || cursor.device() != dir.device()) {
        return failed(request, ErrorCode.BAD_REQUEST, "\"cursor\" belongs to another directory (or this one was replaced)");
      }
      if (!reader.seek(cursor.offset())) {
        return failed(request, ErrorCode.BAD_REQUEST, "\"cursor\" is not a position in this directory");
      }
    }
    int room = ReplyCodec.listingRoom(request.id());
    int used = 0;
    List<DirEntry> entries = new ArrayList<>();
    String prefix = path.equals("/") ? "/" : path + "/";
    try {
      for (int examined = 0; ; examined++) {
        long before = reader.position();
        if (examined == MAX_EXAMINED) {
          return new Reply.Listed(request.id(), entries, seal.seal(new ListCursor(dir.device(), dir.inode(), before)));
        }
        DirectoryReader.Entry e = reader.next();
        if (e == null) {
          return new Reply.Listed(request.id(), entries, null);
        }
        if (e.name() == null) {
          continue; // ".", "..", or a name the protocol cannot carry: read, and counted
        }
        DirEntry shown = visible(snapshot, caller, prefix + e.name(), e, reader);
        if (shown == null) {
          continue;
        }
        int bytes = ReplyCodec.listedEntryBytes(shown);
        if (used + bytes > room) {
          return new Reply.Listed(request.id(), entries, seal.seal(new ListCursor(dir.device(), dir.inode(), before)));
        }
        used += bytes;
        entries.add(shown);
      }
    } catch (PosixException e) {
      return failed(request, ErrorCode.IO_ERROR, "reading the directory failed: " + e.getMessage());
    }
  }

  /**
   * The entry as the caller may see it, or null: exactly when a stat of its path would describe it
   * ({@link Sight}); a deny that matches it hides it, whatever it is.
   */
  private static DirEntry visible(Policy snapshot, Caller caller, String entryPath, DirectoryReader.Entry e,
      DirectoryReader reader) throws PosixException {
    int length = PathSyntax.canonicalLength(entryPath);
    if (length < 0 || length >= ProtocolLimits.MAX_PATH_BYTES) {
      return null; // a path no request could name (the kernel's PATH_MAX counts the NUL)
    }
    Decision d = snapshot.decide(caller, entryPath);
    if (d instanceof Decision.Denied) {
      return null;
    }
    if (d instanceof Decision.NoRuleAllows) {
      // Only a directory can be passed through: nothing else costs a system call.
      boolean maybeDirectory = e.type() == DirectoryReader.DT_DIR || e.type() == DirectoryReader.DT_UNKNOWN;
      d = maybeDirectory ? snapshot.beneath(caller, entryPath) : null;
      if (d == null) {
        return null;
      }
    }
    FileStat stat;
    try {
      stat = reader.statOf(e);
    } catch (PosixException gone) {
      if (DirectoryReader.vanished(gone)) {
        return null;
      }
      throw gone;
    }
    return Sight.of(snapshot, caller, entryPath, d, stat) == Sight.WHOLE ? Attributes.entry(e.name(), stat) : null;
  }

  private static Reply failed(Request.List request, ErrorCode code, String message) {
    return new Reply.Failed(request.id(), code, message);
  }
}
