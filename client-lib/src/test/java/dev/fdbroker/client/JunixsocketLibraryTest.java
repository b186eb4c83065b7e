package dev.fdbroker.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** When client-lib points junixsocket at the installed library, and when it keeps out. */
class JunixsocketLibraryTest {
  @TempDir Path dir;

  private final ClassLoader classpath = JunixsocketLibraryTest.class.getClassLoader();

  private Properties system(Path installed) {
    Properties p = new Properties();
    p.setProperty("os.name", "Linux");
    p.setProperty("os.arch", "amd64");
    p.setProperty(JunixsocketLibrary.LOCATION_PROPERTY, installed.toString());
    return p;
  }

  /** The library as the package installs it: the one in junixsocket's jar, under a plain name. */
  private Path installed() throws IOException {
    String resource = JunixsocketLibrary.bundledLibrary(system(dir), classpath).orElseThrow();
    Path target = dir.resolve("libjunixsocket-native.so");
    try (InputStream in = classpath.getResourceAsStream(resource)) {
      Files.copy(in, target);
    }
    return target;
  }

  @Test
  void theBundledLibraryIsNamedAsJunixsocketNamesIt() {
    String resource = JunixsocketLibrary.bundledLibrary(system(dir), classpath).orElseThrow();
    assertTrue(resource.matches("lib/amd64-Linux-clang/jni/libjunixsocket-native-\\d+\\.\\d+\\.\\d+\\.so"), resource);
    assertTrue(classpath.getResource(resource) != null, resource + " is on the class path");
  }

  @Test
  void anIdenticalInstalledLibraryIsUsed() throws IOException {
    Path installed = installed();
    assertEquals(Optional.of(installed), JunixsocketLibrary.overrideFor(system(installed), classpath));
  }

  @Test
  void aLibraryWithOtherBytesIsNot() throws IOException {
    Path installed = installed();
    byte[] bytes = Files.readAllBytes(installed);
    bytes[bytes.length / 2] ^= 1;
    Files.write(installed, bytes);
    assertEquals(Optional.empty(), JunixsocketLibrary.overrideFor(system(installed), classpath));
    Files.write(installed, java.util.Arrays.copyOf(bytes, bytes.length - 1));
    assertEquals(Optional.empty(), JunixsocketLibrary.overrideFor(system(installed), classpath));
  }

  @Test
  void noInstalledLibraryNoOverride() {
    assertEquals(Optional.empty(), JunixsocketLibrary.overrideFor(system(dir.resolve("absent.so")), classpath));
    assertEquals(Optional.empty(), JunixsocketLibrary.overrideFor(system(dir), classpath)); // a directory
  }

  @Test
  void junixsocketsOwnPropertiesAreTheUsersChoice() throws IOException {
    Path installed = installed();
    for (String choice : new String[] {"org.newsclub.net.unix.library.override",
        "org.newsclub.net.unix.library.override.force", "org.newsclub.net.unix.library.tmpdir",
        "org.newsclub.net.unix.library.disable"}) {
      Properties p = system(installed);
      p.setProperty(choice, "");
      assertEquals(Optional.empty(), JunixsocketLibrary.overrideFor(p, classpath), choice);
    }
  }

  @Test
  void withoutJunixsocketsLibraryOnTheClassPathNothingToCompareWith() throws IOException {
    Path installed = installed();
    try (URLClassLoader empty = new URLClassLoader(new URL[0], null)) {
      assertEquals(Optional.empty(), JunixsocketLibrary.overrideFor(system(installed), empty));
    }
  }

  @Test
  void nothingThatGoesWrongStopsTheClient() {
    String before = System.getProperty(JunixsocketLibrary.LOCATION_PROPERTY);
    System.setProperty(JunixsocketLibrary.LOCATION_PROPERTY, "bad\0path");
    try {
      JunixsocketLibrary.preferInstalled(); // Path.of throws InvalidPathException: swallowed
      assertEquals(null, System.getProperty(JunixsocketLibrary.OVERRIDE_PROPERTY));
    } finally {
      if (before == null) {
        System.clearProperty(JunixsocketLibrary.LOCATION_PROPERTY);
      } else {
        System.setProperty(JunixsocketLibrary.LOCATION_PROPERTY, before);
      }
    }
  }

  @Test
  void onlyOnLinux() throws IOException {
    Properties p = system(installed());
    p.setProperty("os.name", "Mac OS X");
    assertEquals(Optional.empty(), JunixsocketLibrary.overrideFor(p, classpath));
  }
}
