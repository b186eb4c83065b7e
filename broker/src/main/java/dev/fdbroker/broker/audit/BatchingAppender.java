package dev.fdbroker.broker.audit;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.UnsynchronizedAppenderBase;
import ch.qos.logback.core.encoder.Encoder;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Writes audit records in large writes: each record is encoded (JSON, by the target's encoder) on
 * the thread that records it, into a shared 64 KiB buffer; a full buffer is written by whichever
 * recording thread finds the file free, and a flusher thread writes what is left within
 * {@link #FLUSH_INTERVAL_NANOS}. Recording never waits for the disk: if the file is busy being
 * written (perhaps stuck on a slow or full disk), records wait in at most {@link #MAX_PENDING} full
 * buffers, and beyond that are dropped and counted.
 *
 * <p>Why not logback's AsyncAppender: its one writer thread encodes and writes every record. Under
 * heavy load that thread gets but a share of the CPU among hundreds of serving threads and falls
 * behind (measured: a fifth of the records dropped at 256 busy connections); and each record it is
 * woken for costs a context switch, each line its file appender flushes a write call. Here the
 * encoding is spread over the threads that make the records, and a write carries hundreds of lines.
 */
final class BatchingAppender extends UnsynchronizedAppenderBase<ILoggingEvent> {
  private static final int BUFFER_BYTES = 64 * 1024;
  /**
   * Full buffers waiting to be written, at most: 16 MiB, some 80,000 records, most of a second at
   * full speed. Under heavy load a thread may wait that long for a CPU while it holds the file (at
   * 256 busy connections, 4 MiB was measured too little), and the records made meanwhile wait here.
   */
  static final int MAX_PENDING = 256;
  /** How long a record may sit in a buffer that is not full, at most (give or take the flusher's wake-up). */
  static final long FLUSH_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

  private record Chunk(byte[] bytes, int length) {}

  private final OutputStreamAppender<ILoggingEvent> target;
  private final Encoder<ILoggingEvent> encoder;
  private final Runnable onDrop;

  /** Guards {@link #current}, {@link #used}, {@link #pending}. */
  private final Object fill = new Object();
  private byte[] current = new byte[BUFFER_BYTES];
  private int used;
  private final ArrayDeque<Chunk> pending = new ArrayDeque<>();

  /** Held while writing to the target: by the flusher, or by a recording thread that found it free. */
  private final ReentrantLock writing = new ReentrantLock();
  private Thread flusher;
  private volatile boolean flusherAsleep;
  private volatile boolean stopping;

  /** @param target where records go; started by the caller, its stream written directly */
  BatchingAppender(OutputStreamAppender<ILoggingEvent> target, Runnable onDrop) {
    this.target = target;
    this.encoder = target.getEncoder();
    this.onDrop = onDrop;
  }

  @Override
  public void start() {
    flusher = Thread.ofPlatform().daemon(true).name("fdbroker-audit-flusher").unstarted(this::flushLoop);
    super.start();
    flusher.start();
  }

  @Override
  protected void append(ILoggingEvent event) {
    byte[] line = encoder.encode(event);
    boolean full;
    boolean wasEmpty;
    synchronized (fill) {
      wasEmpty = used == 0 && pending.isEmpty();
      if (line.length > BUFFER_BYTES - used && !seal(line)) {
        onDrop.run();
        return;
      }
      if (line.length <= BUFFER_BYTES - used) {
        System.arraycopy(line, 0, current, used, line.length);
        used += line.length;
      }
      full = !pending.isEmpty();
    }
    if (full && writing.tryLock()) {
      try {
        writePending();
      } finally {
        writing.unlock();
      }
    } else if (wasEmpty && flusherAsleep) {
      flusherAsleep = false;
      LockSupport.unpark(flusher);
    }
  }

  /**
   * Makes room for {@code line}: the current buffer joins the pending ones (a line too big for any
   * buffer becomes one of its own). False if there is no room: the line is dropped.
   */
  private boolean seal(byte[] line) {
    int needed = (used > 0 ? 1 : 0) + (line.length > BUFFER_BYTES ? 1 : 0);
    if (pending.size() + needed > MAX_PENDING) {
      return false;
    }
    if (used > 0) {
      pending.add(new Chunk(current, used));
      current = new byte[BUFFER_BYTES];
      used = 0;
    }
    if (line.length > BUFFER_BYTES) {
      pending.add(new Chunk(line, line.length));
    }
    return true;
  }

  private void flushLoop() {
    while (true) {
      boolean empty;
      synchronized (fill) {
        empty = used == 0 && pending.isEmpty();
      }
      if (empty) {
        if (stopping) {
          return;
        }
        flusherAsleep = true;
        synchronized (fill) {
          empty = used == 0 && pending.isEmpty();
        }
        if (empty && !stopping) {
          LockSupport.park(this);
        }
        flusherAsleep = false;
        if (!stopping) {
          LockSupport.parkNanos(this, FLUSH_INTERVAL_NANOS); // let a batch gather
        }
      }
      writing.lock();
      try {
        synchronized (fill) {
          if (used > 0) {
            pending.add(new Chunk(current, used));
            current = new byte[BUFFER_BYTES];
            used = 0;
          }
        }
        writePending();
      } finally {
        writing.unlock();
      }
    }
  }

  /** Writes the pending buffers, then flushes; the caller holds {@link #writing}. */
  private void writePending() {
    OutputStream out = target.getOutputStream();
    while (true) {
      Chunk chunk;
      synchronized (fill) {
        chunk = pending.poll();
      }
      if (chunk == null) {
        break;
      }
      if (out != null) {
        try {
          out.write(chunk.bytes(), 0, chunk.length());
        } catch (IOException e) {
          // the target's resilient stream reports failures to the status listener, which counts them
        }
      }
    }
    if (out != null) {
      try {
        out.flush();
      } catch (IOException e) {
        // as above
      }
    }
  }

  /** Writes what is held, then stops the flusher and the target. */
  @Override
  public void stop() {
    if (!isStarted()) {
      return;
    }
    super.stop(); // no more records taken
    stopping = true;
    LockSupport.unpark(flusher);
    try {
      flusher.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    target.stop();
  }
}
