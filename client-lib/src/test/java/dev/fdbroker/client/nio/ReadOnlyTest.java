package dev.fdbroker.client.nio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.ReadOnlyFileSystemException;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Every way of writing is refused, before the broker is asked anything. */
class ReadOnlyTest {
  @TempDir Path dir;

  private FakeBrokerFileSystem f;

  @BeforeEach
  void start() throws Exception {
    f = new FakeBrokerFileSystem(dir, FakeBrokerFileSystem.tree(dir).file("/srv/a/x.txt", "x"));
  }

  @AfterEach
  void stop() throws Exception {
    f.close();
  }

  @Test
  void everyWriteIsAReadOnlyFileSystemException() throws Exception {
    Path x = f.path("/srv/a/x.txt");
    Path local = Files.writeString(dir.resolve("local.txt"), "local");
    List<Executable> writes = List.of(
        () -> Files.newOutputStream(x),
        () -> Files.writeString(x, "y"),
        () -> Files.write(f.path("/srv/a/new"), new byte[1]),
        () -> Files.newByteChannel(x, StandardOpenOption.WRITE),
        () -> Files.newByteChannel(x, StandardOpenOption.APPEND),
        () -> Files.newByteChannel(x, StandardOpenOption.READ, StandardOpenOption.DELETE_ON_CLOSE),
        () -> Files.newBufferedWriter(x),
        () -> Files.createFile(f.path("/srv/a/new")),
        () -> Files.createDirectory(f.path("/srv/a/d")),
        () -> Files.createDirectories(f.path("/srv/a/d/e")),
        () -> Files.createSymbolicLink(f.path("/srv/a/l"), x),
        () -> Files.createLink(f.path("/srv/a/l"), x),
        () -> Files.createTempFile(f.path("/srv/a"), "t", ".tmp"),
        () -> Files.delete(x),
        () -> Files.deleteIfExists(x),
        () -> Files.copy(x, f.path("/srv/a/y.txt")),
        () -> Files.move(x, f.path("/srv/a/y.txt")),
        () -> Files.copy(local, f.path("/srv/a/y.txt"), StandardCopyOption.REPLACE_EXISTING),
        () -> Files.move(local, f.path("/srv/a/y.txt")),
        () -> Files.setLastModifiedTime(x, FileTime.fromMillis(0)),
        () -> Files.getFileAttributeView(x, BasicFileAttributeView.class).setTimes(null, null, null),
        () -> Files.setAttribute(x, "basic:lastModifiedTime", FileTime.fromMillis(0)));
    for (int i = 0; i < writes.size(); i++) {
      assertThrows(ReadOnlyFileSystemException.class, writes.get(i), "write #" + i);
    }
    assertEquals(0, f.tree.requests("open"));
    assertEquals("local", Files.readString(local), "a move into it leaves the source");
    assertEquals(true, f.fs.isReadOnly());
  }

  @Test
  void anOptionOfAnotherKindIsUnsupported() {
    java.nio.file.OpenOption odd = new java.nio.file.OpenOption() {};
    assertThrows(UnsupportedOperationException.class, () -> Files.newByteChannel(f.path("/srv/a/x.txt"), odd));
    assertThrows(UnsupportedOperationException.class, () -> Files.newInputStream(f.path("/srv/a/x.txt"), odd));
  }
}
