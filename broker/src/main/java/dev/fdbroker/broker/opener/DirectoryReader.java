package dev.fdbroker.broker.opener;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.fdbroker.broker.posix.Errno;
import dev.fdbroker.broker.posix.FileStat;
import dev.fdbroker.broker.posix.Posix;
import dev.fdbroker.broker.posix.PosixException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CoderResult;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * The entries of one directory, read in the kernel's order from a position ({@link #seek}), one
 * buffer of {@code getdents64} at a time. It holds the directory's descriptor, the pin it was
 * reopened from, and a buffer of {@value #BUFFER_BYTES} bytes, all released by {@link #close}:
 * a listing keeps nothing between pages, so one is read for one page and closed.
 */
public final class DirectoryReader implements AutoCloseable {
  /** d_type values of getdents64. */
  public static final int DT_UNKNOWN = 0;
  public static final int DT_DIR = 4;

  private static final int BUFFER_BYTES = 32 * 1024;

  /**
   * One entry.
   *
   * @param name the entry's name, decoded from valid UTF-8; null for "." and "..", and for a name
   *     that is not valid UTF-8 (the protocol cannot carry it: no request could name it either)
   * @param rawName the name as the directory holds it
   * @param type the kernel's d_type ({@link #DT_UNKNOWN} where the filesystem does not say)
   */
  public record Entry(String name, byte[] rawName, int type) {}

  private final int fd;
  private final int pin;
  private final FileStat stat;
  private final Arena arena = Arena.ofConfined();
  private final MemorySegment buffer = arena.allocate(BUFFER_BYTES, 8);
  private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
      .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
  /** A name is at most 255 bytes (NAME_MAX), so at most 255 chars. */
  private final CharBuffer chars = CharBuffer.allocate(256);
  private int filled;
  private int at;
  private long position;
  private boolean end;

  DirectoryReader(int fd, int pin, FileStat stat) {
    this.fd = fd;
    this.pin = pin;
    this.stat = stat;
  }

  /** The directory itself, from its pin. */
  public FileStat stat() {
    return stat;
  }

  /**
   * Goes to {@code offset}, a position {@link #position} gave earlier for this directory. Returns
   * false if the filesystem refuses it (not a position it gave).
   */
  public boolean seek(long offset) {
    filled = 0;
    at = 0;
    end = false;
    position = offset;
    return Posix.seek(fd, offset) == 0;
  }

  /**
   * Where reading would go on after the entries returned (and skipped) so far: the offset to
   * {@link #seek} to next time.
   */
  public long position() {
    return position;
  }

  /**
   * The next entry, or null at the end of the directory. "." and "..", and names that are not
   * valid UTF-8, come as entries without a name, so that a reader counts them as read: a directory
   * of a million such names must cost a page no more than a million others.
   *
   * @throws PosixException reading the directory failed
   */
  public Entry next() throws PosixException {
    while (true) {
      if (at >= filled) {
        if (end) {
          return null;
        }
        int n = Posix.readDirectory(fd, buffer);
        if (n < 0) {
          throw new PosixException("getdents64", -n);
        }
        if (n == 0) {
          end = true;
          return null;
        }
        filled = n;
        at = 0;
      }
      // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
      long next = buffer.get(JAVA_LONG, at + 8);
      int reclen = buffer.get(JAVA_SHORT, at + 16) & 0xffff;
      int type = buffer.get(JAVA_BYTE, at + 18) & 0xff;
      int nameAt = at + 19;
      int nameEnd = nameAt;
      while (nameEnd < at + reclen && buffer.get(JAVA_BYTE, nameEnd) != 0) {
        nameEnd++;
      }
      byte[] raw = buffer.asSlice(nameAt, nameEnd - nameAt).toArray(JAVA_BYTE);
      at += reclen;
      position = next;
      return new Entry(isDotOrDotDot(raw) ? null : decode(raw), raw, type);
    }
  }

  /** {@code raw} as UTF-8, or null if it is not valid UTF-8; without an exception for the failure. */
  private String decode(byte[] raw) {
    chars.clear();
    utf8.reset();
    CoderResult r = utf8.decode(ByteBuffer.wrap(raw), chars, true);
    if (r.isError() || r.isOverflow() || utf8.flush(chars).isError()) {
      return null;
    }
    return chars.flip().toString();
  }

  private static boolean isDotOrDotDot(byte[] raw) {
    return (raw.length == 1 && raw[0] == '.') || (raw.length == 2 && raw[0] == '.' && raw[1] == '.');
  }

  /**
   * The entry as itself (a symbolic link is not followed), looked up in this very directory, not by
   * path: a rename of the directory since it was opened changes nothing.
   *
   * @throws PosixException the entry is gone (ENOENT), or the lookup failed
   */
  public FileStat statOf(Entry entry) throws PosixException {
    return Posix.statEntry(fd, entry.rawName());
  }

  /** Whether {@code e} means the entry vanished between reading the directory and looking it up. */
  public static boolean vanished(PosixException e) {
    return e.errno() == Errno.ENOENT;
  }

  @Override
  public void close() {
    Posix.closePair(pin, fd);
    arena.close();
  }
}
