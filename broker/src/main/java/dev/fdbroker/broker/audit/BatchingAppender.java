package dev.fdbroker.broker.audit;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.UnsynchronizedAppenderBase;
import ch.qos.logback.core.encoder.Encoder;
import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Writes audit records in large writes. Each record is encoded (JSON, by {@link AuditLine}) on
 * the thread that records it and queued, lock-free; once 64 KiB are queued, whichever recording
 * thread finds the file free writes them all, and a flusher thread writes what is left within
 * {@link #FLUSH_INTERVAL_NANOS}. Recording never waits: not for the disk (if the file is busy being
 * written, perhaps stuck on a slow or full disk, records wait in the queue, at most
 * {@link #MAX_QUEUED_BYTES}, and beyond that are dropped and counted), and not for a lock (with
 * hundreds of serving threads, a lock held by a thread that loses its CPU would stall them all).
 *
 * <p>Why not logback's AsyncAppender: its one writer thread encodes and writes every record. Under
 * heavy load that thread gets but a share of the CPU among hundreds of serving threads and falls
 * behind (measured: a fifth of the records dropped at 256 busy connections); and each record it is
 * woken for costs a context switch, each line its file appender flushes a write call. Here the
 * encoding is spread over the threads that make the records, and a write carries hundreds of lines.
 */
final class BatchingAppender extends UnsynchronizedAppenderBase<ILoggingEvent> {
  /** Queued bytes that make a write worth it. */
  private static final int WRITE_BYTES = 64 * 1024;
  /**
   * Bytes queued at most: 16 MiB, some 80,000 records, most of a second at full speed. Under heavy
   * load a thread may wait that long for a CPU while it holds the file (at 256 busy connections,
   * 4 MiB was measured too little), and the records made meanwhile wait here.
   */
  static final long MAX_QUEUED_BYTES = 16L * 1024 * 1024;
  /** How long a record may wait when few are made (give or take the flusher's wake-up). */
  static final long FLUSH_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

  private final OutputStreamAppender<ILoggingEvent> target;
  private final Encoder<ILoggingEvent> encoder;
  private final Runnable onDrop;
  private final ConcurrentLinkedQueue<byte[]> queue = new ConcurrentLinkedQueue<>();
  private final AtomicLong queuedBytes = new AtomicLong();
  /** Threads inside {@link #offer} right now. */
  private final AtomicInteger offering = new AtomicInteger();
  /** Held while writing to the target: by the flusher, or by a recording thread that found it free. */
  private final ReentrantLock writing = new ReentrantLock();
  /** Where queued lines are gathered into one write; used under {@link #writing}. */
  private final byte[] chunk = new byte[WRITE_BYTES];
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
    offer(encoder.encode(event));
  }

  /**
   * Queues one encoded record (the audit log's own path, which skips making a logging event).
   * Returns false if this appender is stopped, and so takes nothing.
   */
  boolean offer(byte[] line) {
    // Counted in before looking at the state, counted out when done: stop() waits for the count to
    // fall to zero after it stops taking records, so no record is queued after the last write.
    offering.incrementAndGet();
    try {
      return isStarted() && enqueue(line);
    } finally {
      offering.decrementAndGet();
    }
  }

  private boolean enqueue(byte[] line) {
    long queued = queuedBytes.addAndGet(line.length);
    if (queued > MAX_QUEUED_BYTES) {
      queuedBytes.addAndGet(-line.length);
      onDrop.run();
      return true;
    }
    queue.offer(line);
    if (queued >= WRITE_BYTES) {
      if (writing.tryLock()) {
        try {
          writeQueued(WRITE_BYTES); // one write's worth: this thread has a reply to send
        } finally {
          writing.unlock();
        }
      }
    } else if (flusherAsleep) {
      flusherAsleep = false;
      LockSupport.unpark(flusher);
    }
    return true;
  }

  private void flushLoop() {
    while (true) {
      if (queue.isEmpty()) {
        if (stopping) {
          return;
        }
        flusherAsleep = true;
        if (queue.isEmpty() && !stopping) {
          LockSupport.park(this);
        }
        flusherAsleep = false;
        if (!stopping) {
          LockSupport.parkNanos(this, FLUSH_INTERVAL_NANOS); // let a batch gather
        }
      }
      writing.lock();
      try {
        writeQueued(Long.MAX_VALUE);
      } finally {
        writing.unlock();
      }
    }
  }

  /**
   * Writes what is queued, or about {@code limit} bytes of it, in writes of up to 64 KiB, then
   * flushes; the caller holds {@link #writing}.
   */
  private void writeQueued(long limit) {
    OutputStream out = target.getOutputStream();
    int used = 0;
    long written = 0;
    byte[] line;
    while (written < limit && (line = queue.poll()) != null) {
      written += line.length;
      queuedBytes.addAndGet(-line.length);
      if (line.length > chunk.length - used) {
        write(out, chunk, used);
        used = 0;
      }
      if (line.length > chunk.length) {
        write(out, line, line.length);
      } else {
        System.arraycopy(line, 0, chunk, used, line.length);
        used += line.length;
      }
    }
    write(out, chunk, used);
    if (out != null) {
      try {
        out.flush();
      } catch (IOException e) {
        // the target's resilient stream reports failures to the status listener, which counts them
      }
    }
  }

  private static void write(OutputStream out, byte[] bytes, int length) {
    if (out == null || length == 0) {
      return;
    }
    try {
      out.write(bytes, 0, length);
    } catch (IOException e) {
      // as above
    }
  }

  /**
   * Writes what is held, then stops the flusher and the target. Records offered from now on are
   * refused ({@link #offer} returns false); those being offered are still written.
   */
  @Override
  public void stop() {
    if (!isStarted()) {
      return;
    }
    super.stop(); // no more records taken
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (offering.get() > 0 && System.nanoTime() - deadline < 0) {
      Thread.onSpinWait(); // a record being queued: microseconds, unless its thread lost its CPU
      Thread.yield();
    }
    stopping = true;
    LockSupport.unpark(flusher);
    try {
      flusher.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    // Whatever is left (a record queued as the flusher ended) is written, and the target stopped,
    // under the lock that any thread writing to it holds.
    writing.lock();
    try {
      writeQueued(Long.MAX_VALUE);
      target.stop();
    } finally {
      writing.unlock();
    }
  }
}
