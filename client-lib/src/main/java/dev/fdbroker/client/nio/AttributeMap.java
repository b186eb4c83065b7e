package dev.fdbroker.client.nio;

import java.nio.file.attribute.BasicFileAttributes;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * The map form of {@code Files.readAttributes(path, "basic:size,lastModifiedTime")}: the "basic"
 * view only, whose names are those of {@link BasicFileAttributes}'s methods, or {@code *} for all.
 */
final class AttributeMap {
  private static final Map<String, Function<BasicFileAttributes, Object>> BASIC = new LinkedHashMap<>();

  static {
    BASIC.put("lastModifiedTime", BasicFileAttributes::lastModifiedTime);
    BASIC.put("lastAccessTime", BasicFileAttributes::lastAccessTime);
    BASIC.put("creationTime", BasicFileAttributes::creationTime);
    BASIC.put("size", BasicFileAttributes::size);
    BASIC.put("isRegularFile", BasicFileAttributes::isRegularFile);
    BASIC.put("isDirectory", BasicFileAttributes::isDirectory);
    BASIC.put("isSymbolicLink", BasicFileAttributes::isSymbolicLink);
    BASIC.put("isOther", BasicFileAttributes::isOther);
    BASIC.put("fileKey", BasicFileAttributes::fileKey);
  }

  private AttributeMap() {}

  /**
   * The view that {@code attributes} ("[view:]name,name" or "[view:]*") names, checked before the
   * broker is asked anything.
   *
   * @throws UnsupportedOperationException a view other than "basic"
   * @throws IllegalArgumentException no name, or a name the view does not have
   */
  static String[] names(String attributes) {
    int colon = attributes.indexOf(':');
    String view = colon < 0 ? "basic" : attributes.substring(0, colon);
    if (!view.equals("basic")) {
      throw new UnsupportedOperationException("View '" + view + "' not available");
    }
    String[] names = attributes.substring(colon + 1).split(",", -1);
    for (String name : names) {
      if (!name.equals("*") && !BASIC.containsKey(name)) {
        throw new IllegalArgumentException("'" + name + "' not recognized");
      }
    }
    return names;
  }

  /** The named attributes (from {@link #names}) of {@code attributes}; fileKey maps to null. */
  static Map<String, Object> read(String[] names, BasicFileAttributes attributes) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (String name : names) {
      if (name.equals("*")) {
        BASIC.forEach((n, read) -> out.put(n, read.apply(attributes)));
      } else {
        out.put(name, BASIC.get(name).apply(attributes));
      }
    }
    return out;
  }
}
