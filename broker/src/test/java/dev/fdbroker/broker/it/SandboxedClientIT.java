package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A Java worker whose /tmp is not writable: junixsocket cannot unpack its native library there,
 * so client-lib must load the copy the package installs (here at a path the test names with
 * {@code -Dfdbroker.client.nativeLibrary}, instead of /usr/lib/fdbroker, which belongs to the
 * package tests).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SandboxedClientIT {
  private Fixture f;
  private String pub;
  private Path noTmp;

  @BeforeAll
  void start() throws Exception {
    f = Fixture.start("");
    pub = f.allowed + "/public.txt";
    noTmp = f.root.resolve("no-such-tmp"); // as good as a read-only /tmp: junixsocket cannot create its file
  }

  @AfterAll
  void stop() throws Exception {
    if (f != null) {
      f.close();
    }
  }

  @Test
  void withoutAWritableTmpTheInstalledLibraryIsUsed() throws Exception {
    Path installed = installLibraryAs(f.root.resolve("lib/libjunixsocket-native.so"));
    ItSupport.Result r = fdcat("-Djava.io.tmpdir=" + noTmp, "-Dfdbroker.client.nativeLibrary=" + installed);
    r.assertExit(0);
    assertEquals("public\n", r.stdout());
  }

  @Test
  void withoutAWritableTmpOrAnInstalledLibraryJunixsocketCannotLoad() throws Exception {
    // The situation the installed library is for; also shows that the test's tmpdir does bite.
    ItSupport.Result r = fdcat("-Djava.io.tmpdir=" + noTmp,
        "-Dfdbroker.client.nativeLibrary=" + f.root.resolve("lib/not-installed.so"));
    assertTrue(r.exit() != 0, r.stdout());
    assertTrue(r.stderr().contains("UnsatisfiedLinkError"), r.stderr());
  }

  @Test
  void aLibraryThatIsNotTheClientsOwnIsLeftAlone() throws Exception {
    // A shared library that loads but is not junixsocket's: what another junixsocket version's
    // library would be to this client. Pointed at it, junixsocket marks itself loaded, fails to
    // initialize, falls back to its own copy without initializing that, and the JVM crashes.
    Path other = Path.of("/usr/lib/x86_64-linux-gnu/libz.so.1");
    assumeTrue(Files.isReadable(other), "no libz here");
    Path installed = Files.copy(other, Files.createDirectories(f.root.resolve("other")).resolve("libjunixsocket-native.so"));
    ItSupport.Result r = fdcat("-Dfdbroker.client.nativeLibrary=" + installed);
    r.assertExit(0);
    assertEquals("public\n", r.stdout());
  }

  private ItSupport.Result fdcat(String... jvmOptions) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ItSupport.java()));
    cmd.addAll(List.of(jvmOptions));
    cmd.addAll(List.of("-jar", ItSupport.fdcatJar().toString(), "--socket", f.socket.toString(), pub));
    return ItSupport.run(cmd, Duration.ofSeconds(60));
  }

  /**
   * Copies junixsocket's library out of fdcat.jar as the package build does out of the broker's jar
   * (packaging/pom.xml): the one entry lib/amd64-Linux-clang/jni/libjunixsocket-native-VERSION.so.
   */
  private static Path installLibraryAs(Path target) throws IOException {
    if (Files.exists(target)) {
      return target;
    }
    Files.createDirectories(target.getParent());
    try (JarFile jar = new JarFile(ItSupport.fdcatJar().toFile())) {
      JarEntry entry = jar.stream()
          .filter(e -> e.getName().matches("lib/amd64-Linux-clang/jni/libjunixsocket-native-[0-9.]+\\.so"))
          .findFirst().orElseThrow(() -> new AssertionError("no junixsocket library in fdcat.jar"));
      try (InputStream in = jar.getInputStream(entry)) {
        Files.copy(in, target);
      }
    }
    return target;
  }
}
