package dev.fdbroker.broker.replay;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * The lines of an audit log, one at a time, as bytes: a log can be gigabytes, so only one line is
 * held, and no line longer than {@link #MAX_LINE_BYTES} (a broker's line is at most some tens of
 * KiB; a longer one is not the broker's, and must not take the memory of a whole file).
 * Lines end at '\n' only: the broker escapes every other line separator.
 */
final class AuditLines {
  static final int MAX_LINE_BYTES = 1 << 20;

  private final InputStream in;
  private final byte[] chunk = new byte[64 * 1024];
  private int chunkPos;
  private int chunkEnd;
  private byte[] line = new byte[4096];
  private int length;
  private long number;
  private boolean ended;

  AuditLines(InputStream in) {
    this.in = in;
  }

  /** Reads the next line: false at the end of the input. */
  boolean next() throws IOException, AuditLineParser.Malformed {
    length = 0;
    ended = false;
    while (true) {
      if (chunkPos == chunkEnd) {
        int n = in.read(chunk);
        if (n < 0) {
          if (length == 0) {
            return false;
          }
          number++;
          return true; // the last line, with no newline
        }
        chunkPos = 0;
        chunkEnd = n;
      }
      int start = chunkPos;
      int newline = start;
      while (newline < chunkEnd && chunk[newline] != '\n') {
        newline++;
      }
      append(start, newline);
      chunkPos = newline;
      if (newline < chunkEnd) {
        chunkPos++;
        number++;
        ended = true;
        return true;
      }
    }
  }

  private void append(int from, int to) throws AuditLineParser.Malformed {
    int n = to - from;
    if (length + n > MAX_LINE_BYTES) {
      number++;
      throw new AuditLineParser.Malformed(
          "the line is longer than " + MAX_LINE_BYTES + " bytes: not a line the broker writes");
    }
    if (length + n > line.length) {
      line = Arrays.copyOf(line, Math.min(MAX_LINE_BYTES, Math.max(length + n, line.length * 2)));
    }
    System.arraycopy(chunk, from, line, length, n);
    length += n;
  }

  /** The current line's bytes, from 0 to {@link #length()}, without its newline. */
  byte[] bytes() {
    return line;
  }

  int length() {
    return length;
  }

  /** The current line's number, from 1. */
  long number() {
    return number;
  }

  /** Whether the current line ended in a newline (the last line of a log being written may not). */
  boolean ended() {
    return ended;
  }

  /** Whether the current line holds nothing but spaces, tabs and a carriage return. */
  boolean isBlank() {
    for (int i = 0; i < length; i++) {
      byte b = line[i];
      if (b != ' ' && b != '\t' && b != '\r') {
        return false;
      }
    }
    return true;
  }
}
