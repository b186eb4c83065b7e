package dev.fdbroker.client.nio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fdbroker.client.BrokerUnavailableException;
import dev.fdbroker.client.FakeBroker;
import dev.fdbroker.client.FakeTree;
import dev.fdbroker.client.FdBrokerClient;
import java.net.URI;
import java.nio.file.ClosedFileSystemException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.spi.FileSystemProvider;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The fdbroker: scheme: a file system per socket, found by URI while it is open. */
class UriTest {
  @TempDir Path dir;

  private FakeTree tree;
  private FakeBroker broker;
  private Path socket;
  private URI uri;

  @BeforeEach
  void start() throws Exception {
    tree = new FakeTree(java.nio.file.Files.createDirectories(dir.resolve("contents"))).file("/srv/a/x.txt", "x!");
    socket = dir.resolve("broker.sock");
    broker = new FakeBroker(socket, tree.script());
    uri = URI.create("fdbroker:" + socket);
  }

  @AfterEach
  void stop() throws Exception {
    broker.close();
  }

  @Test
  void theProviderIsInstalled() {
    assertTrue(FileSystemProvider.installedProviders().stream()
        .anyMatch(p -> p.getScheme().equals("fdbroker") && p instanceof BrokerFileSystemProvider));
  }

  @Test
  void aFileSystemOpenedByUriIsFoundByUriUntilClosed() throws Exception {
    FileSystem fs = FileSystems.newFileSystem(uri, Map.of());
    try {
      assertEquals(1, tree.requests("ping"), "it connects at once");
      assertEquals("x!", Files.readString(fs.getPath("/srv/a/x.txt")));
      assertSame(fs, FileSystems.getFileSystem(uri));
      assertSame(fs, FileSystems.getFileSystem(URI.create("fdbroker://" + socket.toString().replace("/", "//"))),
          "the same socket, however spelt");
      assertThrows(FileSystemAlreadyExistsException.class, () -> FileSystems.newFileSystem(uri, Map.of()));
      Path x = fs.getPath("/srv/a/x.txt");
      URI xUri = x.toUri();
      assertEquals("fdbroker:" + socket + "!/srv/a/x.txt", xUri.toString());
      assertEquals(x, Path.of(xUri), "a path's URI gives it back");
      assertEquals(x, fs.getPath("srv/a/x.txt").toUri().equals(xUri) ? x : null, "made absolute");
      assertEquals("x!", Files.readString(Path.of(URI.create(uri + "!/srv/a/x.txt"))));
    } finally {
      fs.close();
    }
    assertFalse(fs.isOpen());
    assertThrows(FileSystemNotFoundException.class, () -> FileSystems.getFileSystem(uri));
    assertThrows(FileSystemNotFoundException.class, () -> Path.of(URI.create(uri + "!/srv/a/x.txt")));
    assertThrows(ClosedFileSystemException.class, () -> Files.readString(fs.getPath("/srv/a/x.txt")));
    fs.close(); // again: nothing
    try (FileSystem again = FileSystems.newFileSystem(uri, Map.of("requestTimeout", Duration.ofSeconds(5)))) {
      assertNotSame(fs, again);
      assertEquals(2, Files.size(again.getPath("/srv/a/x.txt")));
    }
  }

  @Test
  void theEnvironmentSetsTheClientAndNothingElse() throws Exception {
    try (FileSystem fs = FileSystems.newFileSystem(uri,
        Map.of("requestTimeout", "PT2S", "connectTimeout", 1000, "maxConnections", "2"))) {
      assertTrue(fs.isOpen());
    }
    assertThrows(IllegalArgumentException.class, () -> FileSystems.newFileSystem(uri, Map.of("requestTimeOut", "PT2S")));
    assertThrows(IllegalArgumentException.class, () -> FileSystems.newFileSystem(uri, Map.of("requestTimeout", "soon")));
    assertThrows(IllegalArgumentException.class, () -> FileSystems.newFileSystem(uri, Map.of("maxConnections", 0)));
    assertThrows(FileSystemNotFoundException.class, () -> FileSystems.getFileSystem(uri), "none left behind");
  }

  @Test
  void aBrokerThatCannotBeReachedOpensNothing() {
    URI nowhere = URI.create("fdbroker:" + dir.resolve("nothing.sock"));
    assertThrows(BrokerUnavailableException.class,
        () -> FileSystems.newFileSystem(nowhere, Map.of("requestTimeout", Duration.ofMillis(300))));
    assertThrows(FileSystemNotFoundException.class, () -> FileSystems.getFileSystem(nowhere));
  }

  @Test
  void uriThatNameNoSocketAreRefused() {
    BrokerFileSystemProvider provider = new BrokerFileSystemProvider();
    for (String bad : new String[] {"fdbroker:run/x.sock", "fdbroker://host/run/x.sock", "fdbroker:/run/x.sock?a",
        "fdbroker:/run/x.sock#a", "file:/run/x.sock", "fdbroker:/x%zz"}) {
      assertThrows(IllegalArgumentException.class, () -> provider.newFileSystem(URI.create(bad), Map.of()), bad);
    }
    assertThrows(IllegalArgumentException.class, () -> provider.getPath(URI.create("fdbroker:" + socket)),
        "names a file system, no path in it");
  }

  /** client.fileSystem(): one at a time per client, closed with it, not found by URI. */
  @Test
  void aClientsOwnFileSystem() throws Exception {
    FdBrokerClient client = FdBrokerClient.builder(socket).build();
    FileSystem fs = client.fileSystem();
    assertSame(fs, client.fileSystem());
    assertEquals("x!", Files.readString(fs.getPath("/srv/a/x.txt")));
    assertInstanceOf(BrokerFileSystemProvider.class, fs.provider());
    assertThrows(FileSystemNotFoundException.class, () -> Path.of(fs.getPath("/srv/a/x.txt").toUri()));
    fs.close();
    FileSystem second = client.fileSystem();
    assertNotSame(fs, second);
    assertEquals(2, Files.size(second.getPath("/srv/a/x.txt")), "closing the file system left the client open");
    client.close();
    assertFalse(second.isOpen());
    assertThrows(ClosedFileSystemException.class, () -> Files.size(second.getPath("/srv/a/x.txt")));
  }
}
