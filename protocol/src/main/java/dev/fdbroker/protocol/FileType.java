package dev.fdbroker.protocol;

/** What kind of file a path names, as {@code stat} and {@code list} report it. */
public enum FileType {
  FILE("file"),
  DIRECTORY("dir"),
  /** Reported, never followed: the broker opens nothing through a symbolic link. */
  SYMLINK("symlink"),
  /** A FIFO, socket or device: described, never opened. */
  OTHER("other");

  private final String wireName;

  FileType(String wireName) {
    this.wireName = wireName;
  }

  public String wireName() {
    return wireName;
  }

  /** The type for a wire name; a name a newer broker may add reads as {@link #OTHER}. */
  public static FileType fromWireName(String name) {
    for (FileType t : values()) {
      if (t.wireName.equals(name)) {
        return t;
      }
    }
    return OTHER;
  }

  @Override
  public String toString() {
    return wireName;
  }
}
