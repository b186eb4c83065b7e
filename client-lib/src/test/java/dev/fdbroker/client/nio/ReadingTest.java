package dev.fdbroker.client.nio;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.fdbroker.client.BrokerFileException;
import dev.fdbroker.protocol.ErrorCode;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading brokered files through java.nio, as ordinary code does. */
class ReadingTest {
  @TempDir Path dir;

  private FakeBrokerFileSystem f;
  private byte[] big;

  @BeforeEach
  void start() throws Exception {
    big = new byte[300_000];
    for (int i = 0; i < big.length; i++) {
      big[i] = (byte) (i * 31 + i / 7);
    }
    f = new FakeBrokerFileSystem(dir, FakeBrokerFileSystem.tree(dir)
        .file("/srv/a/x.txt", "line one\nline two\n")
        .file("/srv/a/big.bin", big)
        .file("/srv/a/b.zip", zip(Map.of("fonts/a.ttf", "font a", "readme.txt", "hello from the zip")))
        .file("/srv/a/private/key", "secret")
        .deny("/srv/a/private")
        .symlink("/srv/a/link")
        .other("/srv/a/fifo"));
  }

  @AfterEach
  void stop() throws Exception {
    f.close();
  }

  private static byte[] zip(Map<String, String> entries) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
      for (Map.Entry<String, String> e : new java.util.TreeMap<>(entries).entrySet()) {
        zip.putNextEntry(new ZipEntry(e.getKey()));
        zip.write(e.getValue().getBytes(UTF_8));
        zip.closeEntry();
      }
    }
    return bytes.toByteArray();
  }

  @Test
  void theFilesHelpersRead() throws Exception {
    Path x = f.path("/srv/a/x.txt");
    assertEquals("line one\nline two\n", Files.readString(x));
    assertArrayEquals(big, Files.readAllBytes(f.path("/srv/a/big.bin")));
    assertEquals(List.of("line one", "line two"), Files.readAllLines(x));
    try (Stream<String> lines = Files.lines(x)) {
      assertEquals(2, lines.count());
    }
    try (BufferedReader r = Files.newBufferedReader(x)) {
      assertEquals("line one", r.readLine());
    }
    try (InputStream in = Files.newInputStream(x, StandardOpenOption.READ)) {
      assertEquals('l', in.read());
    }
    Path copy = dir.resolve("copy.txt");
    Files.copy(x, copy);
    assertEquals("line one\nline two\n", Files.readString(copy), "copying out of the file system reads it");
    assertEquals("line one\nline two\n", Files.readString(f.path("srv/a/x.txt")), "relative to the root");
    assertEquals("line one\nline two\n", Files.readString(f.path("/srv/./a/../a/x.txt")), "normalized");
  }

  /** The channel is the descriptor the broker passed, as a real FileChannel: it maps. */
  @Test
  void aByteChannelIsAFileChannelThatMapsAndNeverWrites() throws Exception {
    Path p = f.path("/srv/a/big.bin");
    try (SeekableByteChannel ch = Files.newByteChannel(p)) {
      FileChannel fc = assertInstanceOf(FileChannel.class, ch);
      assertEquals(big.length, fc.size());
      MappedByteBuffer map = fc.map(FileChannel.MapMode.READ_ONLY, 100_000, 1000);
      assertEquals(big[100_500], map.get(500));
      ByteBuffer some = ByteBuffer.allocate(10);
      fc.read(some, 299_990);
      assertArrayEquals(java.util.Arrays.copyOfRange(big, 299_990, 300_000), some.array());
      assertThrows(NonWritableChannelException.class, () -> fc.write(ByteBuffer.allocate(1)));
      assertThrows(NonWritableChannelException.class, () -> fc.map(FileChannel.MapMode.READ_WRITE, 0, 1));
    }
    try (FileChannel fc = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.CREATE)) {
      assertEquals(big.length, fc.size(), "CREATE is ignored when reading, as java.nio says");
    }
  }

  @Test
  void refusalsAreTheJavaNioExceptionsNamingThePath() throws Exception {
    AccessDeniedException denied = assertThrows(AccessDeniedException.class,
        () -> Files.readAllBytes(f.path("/srv/a/private/key")));
    assertEquals("/srv/a/private/key", denied.getFile());
    assertEquals("not allowed by policy", denied.getReason());
    assertEquals("/srv/a/missing",
        assertThrows(NoSuchFileException.class, () -> Files.newInputStream(f.path("srv/a/missing"))).getFile());
    BrokerFileException link = assertThrows(BrokerFileException.class, () -> Files.readString(f.path("/srv/a/link")));
    assertEquals(ErrorCode.SYMLINK, link.code());
    assertEquals("/srv/a/link: symlink: a component of the path is a symbolic link", link.getMessage());
    assertEquals(ErrorCode.NOT_REGULAR,
        assertThrows(BrokerFileException.class, () -> Files.readAllBytes(f.path("/srv/a"))).code());
    assertEquals(ErrorCode.NOT_REGULAR,
        assertThrows(BrokerFileException.class, () -> Files.newByteChannel(f.path("/srv/a/fifo"))).code());
  }

  /** The JDK's zip file system reads an archive the broker opened, through this one's channel. */
  @Test
  void theZipFileSystemReadsABrokeredArchive() throws Exception {
    Path archive = f.path("/srv/a/b.zip");
    try (FileSystem zip = FileSystems.newFileSystem(archive)) {
      assertEquals("hello from the zip", Files.readString(zip.getPath("/readme.txt")));
      assertEquals("font a", Files.readString(zip.getPath("fonts/a.ttf")));
      try (Stream<Path> all = Files.walk(zip.getPath("/"))) {
        assertEquals(List.of("/", "/fonts", "/fonts/a.ttf", "/readme.txt"),
            all.map(Path::toString).sorted().collect(Collectors.toList()));
      }
      assertEquals(true, zip.isReadOnly(), "the archive is not writable");
    }
    try (FileSystem zip = FileSystems.newFileSystem(archive, Map.of("accessMode", "readOnly"))) {
      assertEquals("font a", Files.readString(zip.getPath("/fonts/a.ttf")));
    }
    assertThrows(AccessDeniedException.class, () -> FileSystems.newFileSystem(f.path("/srv/a/private/key")));
  }
}
