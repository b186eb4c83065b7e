package dev.fdbroker.client.nio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fdbroker.client.BrokerFileException;
import dev.fdbroker.protocol.ErrorCode;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Directory streams, Files.list, walk and find, and what they cost in requests. */
class DirectoryTest {
  @TempDir Path dir;

  private FakeBrokerFileSystem f;

  @BeforeEach
  void start() throws Exception {
    f = new FakeBrokerFileSystem(dir, FakeBrokerFileSystem.tree(dir)
        .file("/srv/a/x.png", "png")
        .file("/srv/a/y.png", "png!")
        .file("/srv/a/notes.txt", "notes")
        .file("/srv/a/sub/deep.txt", "deep")
        .dir("/srv/a/sub/empty")
        .symlink("/srv/a/link")
        .file("/srv/a/private/key", "secret")
        .deny("/srv/a/private"));
  }

  @AfterEach
  void stop() throws Exception {
    f.close();
  }

  private static List<String> names(DirectoryStream<Path> entries) {
    List<String> out = new ArrayList<>();
    entries.forEach(p -> out.add(p.toString()));
    return out;
  }

  @Test
  void aDirectoryStreamShowsWhatTheBrokerLetsUsSee() throws Exception {
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(f.path("/srv/a"))) {
      assertEquals(List.of("/srv/a/link", "/srv/a/notes.txt", "/srv/a/sub", "/srv/a/x.png", "/srv/a/y.png"),
          names(entries), "the denied directory is not there");
    }
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(f.path("/srv/a"), "*.png")) {
      assertEquals(List.of("/srv/a/x.png", "/srv/a/y.png"), names(entries));
    }
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(f.path("srv/a/sub"), Files::isDirectory)) {
      assertEquals(List.of("srv/a/sub/empty"), names(entries), "entries resolve against the path as given");
    }
    try (Stream<Path> list = Files.list(f.path("/"))) {
      assertEquals(List.of("/srv"), list.map(Path::toString).collect(Collectors.toList()));
    }
  }

  @Test
  void aDirectoryStreamIsIteratedOnce() throws Exception {
    DirectoryStream<Path> entries = Files.newDirectoryStream(f.path("/srv/a"));
    Iterator<Path> it = entries.iterator();
    assertThrows(IllegalStateException.class, entries::iterator);
    it.next();
    entries.close();
    assertFalse(it.hasNext(), "closed: as if at the end");
    DirectoryStream<Path> closed = Files.newDirectoryStream(f.path("/srv/a"));
    closed.close();
    assertThrows(IllegalStateException.class, closed::iterator);
  }

  @Test
  void aDirectoryThatCannotBeListedFailsWhenOpened() {
    assertEquals("/srv/a/x.png", assertThrows(NotDirectoryException.class,
        () -> Files.newDirectoryStream(f.path("/srv/a/x.png"))).getFile());
    assertThrows(AccessDeniedException.class, () -> Files.list(f.path("/srv/a/private")));
    assertThrows(NoSuchFileException.class, () -> Files.list(f.path("/srv/nope")));
    assertEquals(ErrorCode.SYMLINK,
        assertThrows(BrokerFileException.class, () -> Files.list(f.path("/srv/a/link"))).code());
  }

  @Test
  void walkAndFindGoDownEveryDirectoryButThroughNoLink() throws Exception {
    try (Stream<Path> all = Files.walk(f.path("/srv"))) {
      assertEquals(List.of("/srv", "/srv/a", "/srv/a/link", "/srv/a/notes.txt", "/srv/a/sub", "/srv/a/sub/deep.txt",
          "/srv/a/sub/empty", "/srv/a/x.png", "/srv/a/y.png"), all.map(Path::toString).collect(Collectors.toList()));
    }
    try (Stream<Path> found = Files.find(f.path("/srv"), 10, (p, attrs) -> attrs.isRegularFile() && attrs.size() > 3)) {
      assertEquals(List.of("/srv/a/notes.txt", "/srv/a/sub/deep.txt", "/srv/a/y.png"),
          found.map(Path::toString).collect(Collectors.toList()));
    }
    try (Stream<Path> files = Files.walk(f.path("/srv"), java.nio.file.FileVisitOption.FOLLOW_LINKS)) {
      assertTrue(files.anyMatch(p -> p.toString().equals("/srv/a/link")), "a link is an entry, not a directory");
    }
    List<String> visited = new ArrayList<>();
    Files.walkFileTree(f.path("/srv/a/sub"), new java.nio.file.SimpleFileVisitor<>() {
      @Override
      public java.nio.file.FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
        visited.add(file.getFileName() + ":" + attrs.size());
        return java.nio.file.FileVisitResult.CONTINUE;
      }
    });
    assertEquals(List.of("deep.txt:4"), visited);
  }

  /**
   * Walking a tree asks one stat (the start) and a list per page of each directory: the entries'
   * attributes come with their listing, even for the walk's consumer asking Files.isRegularFile.
   */
  @Test
  void walkingATreeCostsAListPerPageNotAStatPerFile() throws Exception {
    for (int d = 0; d < 10; d++) {
      for (int i = 0; i < 250; i++) {
        f.tree.file("/big/d" + d + "/f" + i, "x");
      }
    }
    f.tree.pageSize(100);
    long files;
    try (Stream<Path> all = Files.walk(f.path("/big"))) {
      files = all.filter(Files::isRegularFile).filter(p -> Files.exists(p)).count();
    }
    assertEquals(2500, files);
    assertEquals(2, f.tree.requests("stat"), "the start only, once by the walk and once by the filter");
    assertEquals(1 + 10 * 3, f.tree.requests("list"), "/big, then three pages of each directory");
    assertEquals(0, f.tree.requests("open"));
  }

  /** A listing's attributes answer for a second; after that the broker is asked again. */
  @Test
  void listedAttributesAnswerForASecond() throws Exception {
    List<Path> entries;
    try (Stream<Path> list = Files.list(f.path("/srv/a"))) {
      entries = list.collect(Collectors.toList());
    }
    f.advanceSeconds(0.9);
    for (Path p : entries) {
      Files.readAttributes(p, BasicFileAttributes.class);
    }
    assertEquals(0, f.tree.requests("stat"));
    f.advanceSeconds(0.2);
    for (Path p : entries) {
      Files.readAttributes(p, BasicFileAttributes.class);
    }
    assertEquals(entries.size(), f.tree.requests("stat"));
    assertEquals(f.path("/srv/a/x.png"), entries.get(3), "a listed path equals the same path made by hand");
  }

  @Test
  void aPageThatCannotBeFetchedEndsTheIterationWithAnException() throws Exception {
    for (int i = 0; i < 5; i++) {
      f.tree.file("/gone/f" + i, "x");
    }
    f.tree.pageSize(2).vanishesAfterFirstPage("/gone");
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(f.path("/gone"))) {
      Iterator<Path> it = entries.iterator();
      it.next();
      it.next();
      DirectoryIteratorException e = assertThrows(DirectoryIteratorException.class, it::hasNext);
      assertInstanceOf(NoSuchFileException.class, e.getCause());
    }
    try (Stream<Path> walk = Files.walk(f.path("/gone"))) {
      UncheckedIOException e = assertThrows(UncheckedIOException.class, walk::count);
      assertInstanceOf(NoSuchFileException.class, e.getCause());
    }
  }
}
