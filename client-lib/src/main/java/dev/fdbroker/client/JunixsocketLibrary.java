package dev.fdbroker.client;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Properties;

/**
 * Points junixsocket at the copy of its native library that the fdbroker package installs, when
 * that copy is the very library junixsocket would otherwise unpack from its own jar.
 *
 * <p>Why: junixsocket loads its native library by copying it out of its jar into {@code
 * java.io.tmpdir} and loading the copy. A sandboxed worker often has no writable /tmp, and then
 * junixsocket cannot load at all (UnsatisfiedLinkError). The installed copy needs no writing.
 *
 * <p>Why only an identical copy: junixsocket loads a library named by its override property
 * without checking what it is. If that library loads but is not junixsocket's own (another
 * version's, say, for a client that depends on another junixsocket than the package ships),
 * junixsocket marks itself loaded, fails to initialize, falls back to its own copy without
 * initializing that one, and the JVM crashes on the first socket call. A client that worked before
 * must not be broken by a package installed beside it, so the installed file is used only if it
 * has the same bytes as the library in the client's own junixsocket jar: one read of some 64 KiB
 * from each, once per JVM.
 *
 * <p>Nothing is done when the user has set any of junixsocket's own properties for where its
 * library comes from: that is their choice, and this is only a better default.
 */
final class JunixsocketLibrary {
  /** Where the fdbroker package installs it. */
  static final Path INSTALLED = Path.of("/usr/lib/fdbroker/libjunixsocket-native.so");

  /** Where to look instead of {@link #INSTALLED}: for tests, which must not touch /usr/lib. */
  static final String LOCATION_PROPERTY = "fdbroker.client.nativeLibrary";

  static final String OVERRIDE_PROPERTY = "org.newsclub.net.unix.library.override";

  /** junixsocket's properties for its library (NativeLibraryLoader): any of them set, we keep out. */
  private static final List<String> USER_CHOICES = List.of(OVERRIDE_PROPERTY,
      "org.newsclub.net.unix.library.override.force", "org.newsclub.net.unix.library.tmpdir",
      "org.newsclub.net.unix.library.disable");

  /** Whose version the bundled library carries in its name, as junixsocket looks it up. */
  private static final String NATIVE_COMMON_POM =
      "META-INF/maven/com.kohlschutter.junixsocket/junixsocket-native-common/pom.properties";

  private JunixsocketLibrary() {}

  /**
   * Sets junixsocket's override property to the installed library if that is safe. Must run before
   * any junixsocket class initializes: junixsocket reads the property once, when it loads.
   */
  static void preferInstalled() {
    ClassLoader classpath = JunixsocketLibrary.class.getClassLoader();
    if (classpath == null) {
      return; // on the boot class path: nothing to compare with
    }
    try {
      overrideFor(System.getProperties(), classpath)
          .ifPresent(library -> System.setProperty(OVERRIDE_PROPERTY, library.toString()));
    } catch (RuntimeException e) {
      // A better default, no more: whatever goes wrong here (a malformed path in the test
      // property, a security manager), junixsocket goes its own way, as without it.
    }
  }

  /**
   * The installed library to load, or empty: when the user chose otherwise, when there is none, or
   * when it is not byte for byte the library that {@code classpath}'s junixsocket bundles.
   */
  static Optional<Path> overrideFor(Properties system, ClassLoader classpath) {
    for (String choice : USER_CHOICES) {
      if (system.getProperty(choice) != null) {
        return Optional.empty();
      }
    }
    Path installed = Path.of(system.getProperty(LOCATION_PROPERTY, INSTALLED.toString()));
    Optional<String> bundled = bundledLibrary(system, classpath);
    if (bundled.isEmpty() || !Files.isRegularFile(installed)) {
      return Optional.empty();
    }
    try (InputStream ours = classpath.getResourceAsStream(bundled.get());
        InputStream theirs = Files.newInputStream(installed)) {
      return ours != null && sameBytes(ours, theirs) ? Optional.of(installed) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty(); // unreadable: junixsocket's own way, as before
    }
  }

  /**
   * The resource junixsocket would unpack on Linux: {@code
   * lib/<os.arch>-Linux-clang/jni/libjunixsocket-native-<version>.so}, the version being that of
   * junixsocket-native-common (NativeLibraryLoader.findLibraryCandidates).
   */
  static Optional<String> bundledLibrary(Properties system, ClassLoader classpath) {
    if (!"Linux".equals(system.getProperty("os.name"))) {
      return Optional.empty();
    }
    Properties pom = new Properties();
    try (InputStream in = classpath.getResourceAsStream(NATIVE_COMMON_POM)) {
      if (in == null) {
        return Optional.empty();
      }
      pom.load(in);
    } catch (IOException e) {
      return Optional.empty();
    }
    String version = pom.getProperty("version");
    if (version == null) {
      return Optional.empty();
    }
    // The characters junixsocket strips from os.arch (NativeLibraryLoader.lookupArchProperty).
    String arch = system.getProperty("os.arch", "UnknownArch").replaceAll("[ /\\\\'\";:\\$]", "");
    return Optional.of("lib/" + arch + "-Linux-clang/jni/libjunixsocket-native-" + version + ".so");
  }

  private static boolean sameBytes(InputStream a, InputStream b) throws IOException {
    byte[] x = new byte[8192];
    byte[] y = new byte[8192];
    while (true) {
      int n = a.readNBytes(x, 0, x.length);
      int m = b.readNBytes(y, 0, y.length);
      if (n != m || !Arrays.equals(x, 0, n, y, 0, m)) {
        return false;
      }
      if (n < x.length) {
        return true;
      }
    }
  }
}
