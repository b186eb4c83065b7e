package dev.fdbroker.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fdbroker.protocol.DirEntry;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.FileResult;
import dev.fdbroker.protocol.FileType;
import dev.fdbroker.protocol.MalformedReplyException;
import dev.fdbroker.protocol.Reply;
import dev.fdbroker.protocol.ReplyCodec;
import dev.fdbroker.protocol.Request;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link FdBrokerClient#stat} and {@link FdBrokerClient#list} against a {@link FakeTree}. */
class StatAndListTest {
  @TempDir Path dir;

  private FakeTree tree;
  private Path socket;

  @BeforeEach
  void tree() throws Exception {
    tree = new FakeTree(dir)
        .file("/srv/a/x.png", "png bytes")
        .dir("/srv/a/empty")
        .symlink("/srv/a/link")
        .other("/srv/a/fifo")
        .file("/srv/a/private/key", "secret")
        .deny("/srv/a/private");
    socket = dir.resolve("b.sock");
  }

  private FdBrokerClient client() {
    return FdBrokerClient.builder(socket).build();
  }

  @Test
  void statDescribesEachTypeWithItsTimeAndMode() throws Exception {
    try (FakeBroker broker = new FakeBroker(socket, tree.script()); FdBrokerClient client = client()) {
      FileStat file = client.stat("/srv/a/x.png");
      assertEquals(new FileStat("/srv/a/x.png", FileType.FILE, 9,
          java.nio.file.attribute.FileTime.from(Instant.parse("2024-12-03T12:46:40.123456789Z")), 0644), file);
      assertEquals("x.png", file.name());
      assertTrue(file.isRegularFile());
      FileStat dir = client.stat("/srv/a");
      assertTrue(dir.isDirectory());
      assertEquals(0, dir.size(), "the broker tells no size for a directory");
      assertEquals(0755, dir.mode());
      assertTrue(client.stat("/srv/a/link").isSymbolicLink(), "a link is described, never followed");
      assertTrue(client.stat("/srv/a/fifo").isOther());
      assertEquals(4, tree.requests("stat"));
    }
  }

  @Test
  void statRefusalsAreTheJavaNioExceptions() throws Exception {
    try (FakeBroker broker = new FakeBroker(socket, tree.script()); FdBrokerClient client = client()) {
      AccessDeniedException denied = assertThrows(AccessDeniedException.class, () -> client.stat("/srv/a/private/key"));
      assertEquals("/srv/a/private/key", denied.getFile());
      assertEquals("not allowed by policy", denied.getReason());
      assertThrows(NoSuchFileException.class, () -> client.stat("/srv/a/missing"));
      BrokerFileException link = assertThrows(BrokerFileException.class, () -> client.stat("/srv/a/link/x"));
      assertEquals(ErrorCode.SYMLINK, link.code());
      assertEquals(ErrorCode.BAD_REQUEST,
          assertThrows(BrokerFileException.class, () -> client.stat("/srv/a/../a")).code());
      assertEquals(1, broker.connections(), "refusals of paths leave the connection in use");
    }
  }

  /** A reply whose every entry is a refusal reads as a stat's, because the client says what it asked. */
  @Test
  void statAllKeepsOrderSplitsBatchesAndTakesAnAllRefusedReply() throws Exception {
    List<String> paths = new ArrayList<>();
    for (int i = 0; i < 130; i++) {
      paths.add(i % 3 == 0 ? "/srv/a/x.png" : "/srv/a/private/" + i);
    }
    try (FakeBroker broker = new FakeBroker(socket, tree.script()); FdBrokerClient client = client()) {
      List<StatResult> results = client.statAll(paths);
      assertEquals(130, results.size());
      for (int i = 0; i < 130; i++) {
        assertEquals(paths.get(i), results.get(i).path());
        if (i % 3 == 0) {
          assertEquals(9, results.get(i).stat().size());
        } else {
          StatResult.Refused r = assertInstanceOf(StatResult.Refused.class, results.get(i));
          assertEquals(ErrorCode.DENIED, r.code());
          assertThrows(AccessDeniedException.class, r::stat);
        }
      }
      assertEquals(3, tree.requests("stat"), "64 paths a request, the broker's limit");
      assertEquals(1, tree.requests("ping"), "asked once, for the limit");
      assertInstanceOf(StatResult.Refused.class, client.statAll("/srv/a/private/1", "/nowhere").get(1));
    }
  }

  @Test
  void aListingPagesLazilyAndShowsOnlyWhatTheBrokerLetsUsSee() throws Exception {
    for (int i = 0; i < 250; i++) {
      tree.file(String.format("/srv/big/f%03d", i), "f" + i);
    }
    tree.file("/srv/big/zz-hidden", "no").deny("/srv/big/zz-hidden").pageSize(100);
    try (FakeBroker broker = new FakeBroker(socket, tree.script()); FdBrokerClient client = client()) {
      DirectoryListing listing = client.list("/srv/big");
      assertEquals(1, tree.requests("list"), "the first page comes with list()");
      List<FileStat> entries = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        entries.add(listing.next());
      }
      assertEquals(1, tree.requests("list"), "nothing more until the first page is used up");
      listing.forEachRemaining(entries::add);
      assertEquals(3, tree.requests("list"));
      assertEquals(3, listing.pagesFetched());
      assertEquals(250, entries.size());
      assertEquals("/srv/big/f000", entries.get(0).path());
      assertEquals("f000", entries.get(0).name());
      assertEquals(2, entries.get(0).size());
      assertEquals("/srv/big/f249", entries.get(249).path());
      assertFalse(entries.stream().anyMatch(e -> e.name().startsWith("zz")), "a denied entry never appears");
      assertFalse(listing.hasNext());
      assertThrows(java.util.NoSuchElementException.class, listing::next);
    }
  }

  @Test
  void aListingIsAStreamToo() throws Exception {
    try (FakeBroker broker = new FakeBroker(socket, tree.script()); FdBrokerClient client = client()) {
      assertEquals(List.of("/srv/a/empty:dir", "/srv/a/fifo:other", "/srv/a/link:symlink", "/srv/a/x.png:file"),
          client.list("/srv/a").stream().map(e -> e.path() + ":" + e.type()).collect(Collectors.toList()));
      assertEquals(List.of("/srv"), client.list("/").stream().map(FileStat::path).collect(Collectors.toList()));
      assertFalse(client.list("/srv/a/empty").hasNext());
    }
  }

  /**
   * A list refused for the directory's own reason is an answer, not a broken exchange: the
   * connection stays in the pool (one connection for all of it).
   */
  @Test
  void aListRefusedForTheDirectoryIsItsExceptionAndKeepsTheConnection() throws Exception {
    try (FakeBroker broker = new FakeBroker(socket, tree.script()); FdBrokerClient client = client()) {
      assertEquals("/srv/a/x.png", assertThrows(NotDirectoryException.class, () -> client.list("/srv/a/x.png")).getFile());
      assertEquals("/srv/a/private", assertThrows(AccessDeniedException.class, () -> client.list("/srv/a/private")).getFile());
      assertThrows(NoSuchFileException.class, () -> client.list("/srv/nothing"));
      assertEquals(ErrorCode.SYMLINK, assertThrows(BrokerFileException.class, () -> client.list("/srv/a/link")).code());
      assertTrue(client.list("/srv/a").hasNext());
      assertEquals(1, broker.connections());
    }
  }

  @Test
  void aPathTheBrokerWouldRefuseIsRefusedWithoutAsking() throws Exception {
    try (FakeBroker broker = new FakeBroker(socket, tree.script()); FdBrokerClient client = client()) {
      for (String bad : new String[] {"srv/a", "/srv/a/", "/srv//a", "/srv/./a", ""}) {
        BrokerFileException e = assertThrows(BrokerFileException.class, () -> client.list(bad), bad);
        assertEquals(ErrorCode.BAD_REQUEST, e.code());
      }
      assertEquals(0, tree.requests("list"));
    }
  }

  @Test
  void aLaterPageThatFailsIsAnUncheckedIoException() throws Exception {
    for (int i = 0; i < 5; i++) {
      tree.file("/srv/gone/f" + i, "x");
    }
    tree.pageSize(2).vanishesAfterFirstPage("/srv/gone");
    try (FakeBroker broker = new FakeBroker(socket, tree.script()); FdBrokerClient client = client()) {
      DirectoryListing listing = client.list("/srv/gone");
      listing.next();
      listing.next();
      UncheckedIOException e = assertThrows(UncheckedIOException.class, listing::hasNext);
      assertInstanceOf(NoSuchFileException.class, e.getCause());
    }
  }

  @Test
  void busyIsTriedAgainForStatAndForEachPage() throws Exception {
    for (int i = 0; i < 5; i++) {
      tree.file("/srv/p/f" + i, "x");
    }
    tree.pageSize(2).busyFor("list", 2).busyFor("stat", 1);
    BackoffTest.FakeClock clock = new BackoffTest.FakeClock();
    try (FakeBroker broker = new FakeBroker(socket, tree.script());
        FdBrokerClient client = FdBrokerClient.builder(socket)
            .backoff(new Backoff(clock, () -> 0.0, TimeUnit.SECONDS.toNanos(5))).build()) {
      assertEquals(9, client.stat("/srv/a/x.png").size());
      assertEquals(5, client.list("/srv/p").stream().count());
      assertEquals(2 + 3, tree.requests("list"), "two refused, then three pages");
      assertEquals(2, tree.requests("stat"));
      assertEquals(List.of(10L, 10L, 20L), clock.slept());
    }
  }

  @Test
  void aReplyOfAnotherOpIsMalformed() throws Exception {
    FakeBroker.Script answersWithAListing = c -> {
      Request r;
      while ((r = c.next()) != null) {
        c.send(ReplyCodec.encode(new Reply.Listed(r.id(), List.of(new DirEntry("x", FileType.FILE, 1, 1, 0644)), null)), null);
      }
    };
    try (FakeBroker broker = new FakeBroker(socket, answersWithAListing); FdBrokerClient client = client()) {
      MalformedReplyException e = assertThrows(MalformedReplyException.class, () -> client.stat("/x"));
      assertEquals("a stat request was answered with Listed", e.getMessage());
    }
  }

  @Test
  void aStatReplyWithTooFewResultsIsMalformed() throws Exception {
    FakeBroker.Script short1 = c -> {
      Request r;
      while ((r = c.next()) != null) {
        c.send(ReplyCodec.encode(r instanceof Request.Ping ? new Reply.Pong(r.id(), "0", 1, 64)
            : new Reply.Stated(r.id(), List.of(new FileResult.Refused("/a", ErrorCode.DENIED, "no")))), null);
      }
    };
    try (FakeBroker broker = new FakeBroker(socket, short1); FdBrokerClient client = client()) {
      assertThrows(MalformedReplyException.class, () -> client.statAll("/a", "/b"));
    }
  }

  @Test
  void pingSaysWhichOpsTheBrokerServes() throws Exception {
    try (FakeBroker broker = new FakeBroker(socket, tree.script()); FdBrokerClient client = client()) {
      BrokerInfo info = client.ping();
      assertEquals(List.of("open", "stat", "list", "ping"), info.ops());
      assertTrue(info.serves("list"));
    }
  }

  @Test
  void theSocketIsTheBuilders() {
    assertEquals(socket, FdBrokerClient.builder(socket).requestTimeout(Duration.ofSeconds(1)).build().socket());
  }
}
