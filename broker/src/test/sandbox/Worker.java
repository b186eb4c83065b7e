import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.ReadOnlyFileSystemException;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A worker as a sandboxed Java 17 program would be written: ordinary java.nio code on the broker's
 * read-only file system. Usage: Worker SOCKET DATA_DIR MANIFEST. Runs rounds back to back, printing
 * "round N ok" after each, until a line on stdin says stop; then prints one JSON report line.
 */
public class Worker {
  public static void main(String[] args) throws Exception {
    String data = args[1];
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    Thread stopper = new Thread(() -> {
      try {
        new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine();
      } catch (java.io.IOException e) {
        // stop all the same
      }
      stop.set(true);
    });
    stopper.setDaemon(true);
    stopper.start();
    List<String> errors = new ArrayList<>();
    int done = 0;
    try (FileSystem fs = FileSystems.newFileSystem(URI.create("fdbroker:" + args[0]), Map.of())) {
      String manifest = Files.readString(fs.getPath(args[2]));
      String direct;
      try {
        Files.readAllBytes(Path.of(data, field(manifest, "mmap")));
        direct = "opened";
      } catch (java.io.IOException e) {
        direct = e.getClass().getSimpleName();
      }
      for (int r = 0; !stop.get(); r++) {
        try {
          Map<String, String> seen = new TreeMap<>();
          Path root = fs.getPath(data);
          try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
              if (Files.isRegularFile(p)) {
                seen.put(root.relativize(p).toString(), sha256(Files.readAllBytes(p)));
              }
            }
          }
          for (Map.Entry<String, String> e : seen.entrySet()) {
            if (!manifest.contains("\"" + e.getKey() + "\": \"" + e.getValue() + "\"")) {
              errors.add("round " + r + ": " + e.getKey() + " read other bytes");
            }
          }
          if (seen.size() != count(manifest)) {
            errors.add("round " + r + " saw " + seen.keySet());
          }
          Path big = fs.getPath(data, field(manifest, "mmap"));
          try (SeekableByteChannel ch = Files.newByteChannel(big)) {
            MappedByteBuffer m = ((FileChannel) ch).map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
            byte[] bytes = new byte[m.remaining()];
            m.get(bytes);
            if (!manifest.contains("\"" + field(manifest, "mmap") + "\": \"" + sha256(bytes) + "\"")) {
              errors.add("mmap read other bytes");
            }
          }
          try (FileSystem zip = FileSystems.newFileSystem(fs.getPath(data, field(manifest, "zip")))) {
            String entry = Files.readString(zip.getPath("/inside/entry.txt"));
            if (!entry.equals(field(manifest, "zip_entry"))) {
              errors.add("zip entry read " + entry);
            }
          }
          try {
            Files.readAllBytes(fs.getPath(data, field(manifest, "denied")));
            errors.add("a denied file was granted");
          } catch (AccessDeniedException expected) {
            // denied by the policy
          }
          try {
            Files.newOutputStream(big, StandardOpenOption.APPEND);
            errors.add("a write was let through");
          } catch (ReadOnlyFileSystemException expected) {
            // read-only
          }
          done++;
          System.out.println("round " + r + " ok");
        } catch (Exception e) {
          errors.add("round " + r + ": " + e);
          System.out.println("round " + r + " failed");
        }
      }
      StringBuilder json = new StringBuilder("{\"rounds\": " + done + ", \"direct\": \"" + direct + "\", \"errors\": [");
      for (int i = 0; i < errors.size(); i++) {
        json.append(i == 0 ? "" : ", ").append('"').append(errors.get(i).replace("\\", "\\\\").replace("\"", "'")).append('"');
      }
      System.out.println(json.append("]}"));
    }
  }

  private static String sha256(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  /** A top-level string field of the manifest (written by the test, one field per line). */
  private static String field(String manifest, String name) {
    int at = manifest.indexOf("\"" + name + "\": \"") + name.length() + 5;
    return manifest.substring(at, manifest.indexOf('"', at));
  }

  private static int count(String manifest) {
    String block = manifest.substring(manifest.indexOf("\"sha256\""));
    return (int) block.chars().filter(c -> c == ':').count() - 1;
  }
}
