package dev.fdbroker.client.nio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fdbroker.client.BrokerFileException;
import dev.fdbroker.client.FakeTree;
import dev.fdbroker.protocol.ErrorCode;
import dev.fdbroker.protocol.FileType;
import java.nio.file.AccessDeniedException;
import java.nio.file.AccessMode;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotLinkException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What java.nio says about brokered paths: each answer a stat (or a listing's). */
class AttributesTest {
  private static final FileTime MTIME = FileTime.from(Instant.parse("2024-12-03T12:46:40.123456789Z"));

  @TempDir Path dir;

  private FakeBrokerFileSystem f;

  @BeforeEach
  void start() throws Exception {
    f = new FakeBrokerFileSystem(dir, FakeBrokerFileSystem.tree(dir)
        .file("/srv/a/x.png", "png bytes")
        .file("/srv/a/.hidden", "h")
        .symlink("/srv/a/link")
        .other("/srv/a/fifo")
        .file("/srv/a/private/key", "secret")
        .deny("/srv/a/private"));
  }

  @AfterEach
  void stop() throws Exception {
    f.close();
  }

  @Test
  void sizeTimeAndTypeOfAFile() throws Exception {
    Path x = f.path("/srv/a/x.png");
    assertEquals(9, Files.size(x));
    assertEquals(MTIME, Files.getLastModifiedTime(x));
    assertTrue(Files.exists(x));
    assertFalse(Files.notExists(x));
    assertTrue(Files.isRegularFile(x));
    assertFalse(Files.isDirectory(x));
    assertFalse(Files.isSymbolicLink(x));
    BasicFileAttributes basic = Files.readAttributes(x, BasicFileAttributes.class);
    assertEquals(9, basic.size());
    assertEquals(MTIME, basic.creationTime());
    assertNull(basic.fileKey());
    BrokerFileAttributes ours = Files.readAttributes(x, BrokerFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    assertEquals(0644, ours.mode());
    assertEquals(FileType.FILE, ours.type());
    assertEquals(9, Files.getFileAttributeView(x, BasicFileAttributeView.class).readAttributes().size());
  }

  @Test
  void theMapFormOfTheBasicView() throws Exception {
    Path x = f.path("/srv/a/x.png");
    Map<String, Object> all = Files.readAttributes(x, "basic:*");
    assertEquals(9, all.size());
    assertEquals(9L, all.get("size"));
    assertEquals(true, all.get("isRegularFile"));
    assertEquals(MTIME, all.get("lastModifiedTime"));
    assertTrue(all.containsKey("fileKey"));
    assertEquals(Map.of("size", 9L, "isDirectory", false), Files.readAttributes(x, "size,isDirectory"));
    assertEquals(9, Files.readAttributes(x, "*").size());
    assertEquals(9L, Files.getAttribute(x, "basic:size"));
    assertThrows(IllegalArgumentException.class, () -> Files.readAttributes(x, "basic:owner"));
    assertThrows(IllegalArgumentException.class, () -> Files.readAttributes(x, "basic:"));
    assertThrows(UnsupportedOperationException.class, () -> Files.readAttributes(x, "posix:*"));
    assertThrows(UnsupportedOperationException.class, () -> Files.readAttributes(x, PosixFileAttributes.class));
    assertNull(Files.getFileAttributeView(x, PosixFileAttributeView.class));
    assertThrows(UnsupportedOperationException.class, () -> Files.getOwner(x));
  }

  @Test
  void directoriesOthersAndMissingFiles() throws Exception {
    Path a = f.path("/srv/a");
    assertTrue(Files.isDirectory(a));
    assertEquals(0, Files.size(a));
    assertTrue(Files.isDirectory(f.path("/")));
    assertTrue(Files.readAttributes(f.path("/srv/a/fifo"), BasicFileAttributes.class).isOther());
    Path missing = f.path("/srv/a/missing");
    assertFalse(Files.exists(missing));
    assertTrue(Files.notExists(missing));
    assertFalse(Files.isRegularFile(missing));
    assertEquals("/srv/a/missing", assertThrows(NoSuchFileException.class, () -> Files.size(missing)).getFile());
  }

  /** A denied path neither exists nor does not: the broker does not say. */
  @Test
  void aDeniedPathIsNeitherThereNorAbsent() throws Exception {
    Path key = f.path("/srv/a/private/key");
    assertFalse(Files.exists(key));
    assertFalse(Files.notExists(key));
    assertFalse(Files.isReadable(key));
    assertEquals("/srv/a/private/key", assertThrows(AccessDeniedException.class, () -> Files.size(key)).getFile());
  }

  /** The broker never follows a link, so neither does this file system, whatever the options. */
  @Test
  void aSymbolicLinkIsDescribedAsItselfAndNeverFollowed() throws Exception {
    Path link = f.path("/srv/a/link");
    assertTrue(Files.isSymbolicLink(link));
    assertTrue(Files.exists(link));
    assertTrue(Files.readAttributes(link, BasicFileAttributes.class).isSymbolicLink(), "even when asked to follow");
    assertFalse(Files.isDirectory(link));
    assertFalse(Files.isRegularFile(link));
    assertEquals(link, link.toRealPath(), "a link is its own real path");
    FileSystemException through = assertThrows(FileSystemException.class, () -> Files.size(f.path("/srv/a/link/x")));
    assertEquals(ErrorCode.SYMLINK, ((BrokerFileException) through).code());
    assertThrows(FileSystemException.class, () -> Files.readSymbolicLink(link));
    assertThrows(NotLinkException.class, () -> Files.readSymbolicLink(f.path("/srv/a/x.png")));
  }

  @Test
  void accessIsReadingOnly() throws Exception {
    Path x = f.path("/srv/a/x.png");
    assertTrue(Files.isReadable(x));
    assertFalse(Files.isWritable(x));
    assertFalse(Files.isExecutable(x));
    assertTrue(Files.isExecutable(f.path("/srv/a")), "a directory can be gone through");
    x.getFileSystem().provider().checkAccess(x, AccessMode.READ);
    assertEquals("/srv/a/x.png", assertThrows(AccessDeniedException.class,
        () -> x.getFileSystem().provider().checkAccess(x, AccessMode.WRITE)).getFile());
    assertThrows(NoSuchFileException.class,
        () -> x.getFileSystem().provider().checkAccess(f.path("/nope"), AccessMode.WRITE));
  }

  @Test
  void realPathsSameFilesHiddenFilesAndTheStore() throws Exception {
    assertEquals("/srv/a/x.png", f.path("srv/./a/../a/x.png").toRealPath().toString());
    assertThrows(NoSuchFileException.class, () -> f.path("/srv/a/../nope").toRealPath());
    assertTrue(Files.isSameFile(f.path("/srv/a/x.png"), f.path("srv/a/../a/x.png")));
    assertFalse(Files.isSameFile(f.path("/srv/a/x.png"), f.path("/srv/a")));
    assertFalse(Files.isSameFile(f.path("/srv/a"), Path.of("/srv/a")));
    assertTrue(Files.isHidden(f.path("/srv/a/.hidden")));
    assertFalse(Files.isHidden(f.path("/")));
    assertTrue(Files.getFileStore(f.path("/srv/a/x.png")).isReadOnly());
    assertSame(f.fs.store(), f.fs.getFileStores().iterator().next());
    assertThrows(NoSuchFileException.class, () -> Files.getFileStore(f.path("/nope")));
  }

  @Test
  void eachQuestionIsOneStat() throws Exception {
    Path x = f.path("/srv/a/x.png");
    Files.size(x);
    Files.exists(x);
    Files.isDirectory(x);
    assertEquals(3, f.tree.requests("stat"));
    assertEquals(0, f.tree.requests("open"));
    assertEquals(FakeTree.MTIME_NS / 1_000_000, Files.getLastModifiedTime(x).toMillis());
  }
}
