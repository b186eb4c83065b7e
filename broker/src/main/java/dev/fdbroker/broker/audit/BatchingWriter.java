package dev.fdbroker.broker.audit;

import dev.fdbroker.broker.logging.ThrottledLog;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes audit records to their {@link AuditTarget} in large writes. Each record is encoded (JSON,
 * by {@link AuditLine}) on the thread that records it, into that thread's own buffer, and copied
 * into the batch being gathered ({@link #chunk}) if the recording thread finds the batch free;
 * else it is queued as an array of its own, lock-free. Once 64 KiB are gathered or queued,
 * whichever recording thread finds the target free writes them, and a flusher thread writes what
 * is left within {@link #FLUSH_INTERVAL_NANOS}. Recording never waits: not for the disk (if the
 * target is busy being written, perhaps stuck on a slow disk, records wait in the queue, at most
 * {@link #MAX_QUEUED_BYTES}, and beyond that are dropped and counted), and not for a lock (with
 * hundreds of serving threads, a lock held by a thread that loses its CPU would stall them all: a
 * thread that finds the batch taken queues its record instead).
 *
 * <p>Why copy into the batch where it can: an array per record was a third of what the broker
 * allocated per single-path request once the rest was trimmed (issue 13), and the batch is usually
 * free (held for a copy of a few hundred bytes, or a write every 64 KiB). A thread's records stay
 * in its order: one that finds the batch free first moves what is queued into it (its own earlier
 * records among them), and goes to the queue itself, behind them, if more is queued than one
 * write's worth.
 *
 * <p>No record is lost uncounted. A write that fails counts its records as dropped, and the target
 * is reopened at most once a second meanwhile; records made while it cannot be written wait in the
 * queue (within its bound) for it to come back. {@link #retarget} (a reload) writes what is queued
 * to the old target, closes it and opens the new one under the lock every write holds, so records
 * made meanwhile wait in the queue and go to the new one: a reload loses nothing.
 *
 * <p>Why not logback's AsyncAppender: its one writer thread encodes and writes every record. Under
 * heavy load that thread gets but a share of the CPU among hundreds of serving threads and falls
 * behind (measured: a fifth of the records dropped at 256 busy connections); and each record it is
 * woken for costs a context switch, each line its file appender flushes a write call. Here the
 * encoding is spread over the threads that make the records, and a write carries hundreds of lines.
 */
final class BatchingWriter {
  private static final Logger log = LoggerFactory.getLogger(BatchingWriter.class);
  /** Queued bytes that make a write worth it. */
  private static final int WRITE_BYTES = 64 * 1024;
  /**
   * Bytes queued at most: 16 MiB, some 80,000 records, most of a second at full speed. Under heavy
   * load a thread may wait that long for a CPU while it holds the target (at 256 busy connections,
   * 4 MiB was measured too little), and the records made meanwhile wait here.
   */
  static final long MAX_QUEUED_BYTES = 16L * 1024 * 1024;
  /** How long a record may wait when few are made (give or take the flusher's wake-up). */
  static final long FLUSH_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
  /** How often a target that failed is tried again. */
  static final long RETRY_NANOS = TimeUnit.SECONDS.toNanos(1);

  private final LongConsumer onDropped;
  private final Runnable onWriteError;
  private final ThrottledLog failures = new ThrottledLog(log, Duration.ofMinutes(1));
  private final ConcurrentLinkedQueue<byte[]> queue = new ConcurrentLinkedQueue<>();
  private final AtomicLong queuedBytes = new AtomicLong();
  /** Threads inside {@link #offer} right now. */
  private final AtomicInteger offering = new AtomicInteger();
  /** Held while using the target: by the flusher, a recording thread that found it free, or a retarget. */
  private final ReentrantLock writing = new ReentrantLock();
  /** Where lines are gathered into one write; used under {@link #writing}. */
  private final byte[] chunk = new byte[WRITE_BYTES];
  /** Under {@link #writing}: bytes and lines gathered in {@link #chunk}, not yet written. */
  private int gathered;
  private int gatheredLines;
  /** {@link #gathered}, for the flusher to see without the lock whether there is anything to write. */
  private volatile boolean gathering;
  /** Under {@link #writing}. */
  private AuditTarget target;
  /** Under {@link #writing}: the target failed; it is next tried at {@link #retryAt}. */
  private boolean broken;
  private long retryAt;
  private final Thread flusher;
  private volatile boolean flusherAsleep;
  private volatile boolean taking = true;
  private volatile boolean stopping;

  /**
   * @param onDropped told how many records were lost (queue full, failed write, or stopped)
   * @param onWriteError told of each failure to open or write the target
   */
  BatchingWriter(AuditTarget target, LongConsumer onDropped, Runnable onWriteError) {
    this.onDropped = onDropped;
    this.onWriteError = onWriteError;
    writing.lock();
    try {
      this.target = target;
      openTarget();
    } finally {
      writing.unlock();
    }
    flusher = Thread.ofPlatform().daemon(true).name("fdbroker-audit-flusher").start(this::flushLoop);
  }

  /**
   * Takes one encoded record. Returns false if the writer is stopped, and so takes nothing (the
   * caller counts it).
   */
  boolean offer(byte[] line) {
    return offer(line, line.length);
  }

  /**
   * Takes one encoded record, the first {@code length} bytes of {@code line}: copied, so the caller
   * may reuse the array once this returns. Returns false if the writer is stopped, and so takes
   * nothing (the caller counts it).
   */
  boolean offer(byte[] line, int length) {
    // Counted in before looking at the state, counted out when done: stop() waits for the count to
    // fall to zero after it stops taking records, so no record is queued after the last write.
    offering.incrementAndGet();
    try {
      if (!taking) {
        return false;
      }
      if (writing.tryLock()) {
        try {
          if (gather(line, length)) {
            return true;
          }
        } finally {
          writing.unlock();
        }
      }
      return enqueue(Arrays.copyOf(line, length));
    } finally {
      offering.decrementAndGet();
    }
  }

  /**
   * Copies a record into the batch being gathered, under {@link #writing}; false if it must be
   * queued instead: the target cannot be written now, or more is queued than one write's worth,
   * which the record must not overtake (its own thread's earlier records may be in there).
   */
  private boolean gather(byte[] line, int length) {
    if (broken) {
      return false; // it waits in the queue, within its bound, for the target to come back
    }
    moveQueued(WRITE_BYTES); // one write's worth at most: this thread has a reply to send
    if (!queue.isEmpty() || broken) {
      return false;
    }
    add(line, length); // if writing the batch before it failed, it waits in the next for the target to come back
    gathering = gathered > 0;
    if (gathering && flusherAsleep) {
      flusherAsleep = false;
      LockSupport.unpark(flusher);
    }
    return true;
  }

  private boolean enqueue(byte[] line) {
    long queued = queuedBytes.addAndGet(line.length);
    if (queued > MAX_QUEUED_BYTES) {
      queuedBytes.addAndGet(-line.length);
      onDropped.accept(1);
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

  /**
   * Writes what is queued to the current target, closes it, and opens {@code next} in its place.
   * Records made meanwhile wait in the queue, and go to {@code next}.
   */
  void retarget(AuditTarget next) {
    writing.lock();
    try {
      writeQueued(Long.MAX_VALUE);
      target.close();
      target = next;
      openTarget();
    } finally {
      writing.unlock();
    }
  }

  private void flushLoop() {
    while (true) {
      if (queue.isEmpty() && !gathering) {
        if (stopping) {
          return;
        }
        flusherAsleep = true;
        if (queue.isEmpty() && !gathering && !stopping) {
          LockSupport.park(this);
        }
        flusherAsleep = false;
        if (!stopping) {
          LockSupport.parkNanos(this, FLUSH_INTERVAL_NANOS); // let a batch gather
        }
      }
      boolean wrote;
      writing.lock();
      try {
        wrote = writeQueued(Long.MAX_VALUE);
      } finally {
        writing.unlock();
      }
      if (!wrote) {
        if (stopping) {
          return; // the target is broken: stop() deals with what is left
        }
        LockSupport.parkNanos(this, FLUSH_INTERVAL_NANOS); // the target is broken: not a busy loop
      }
    }
  }

  /**
   * Writes what is gathered and what is queued, or about {@code limit} bytes of the queue, in writes
   * of up to 64 KiB; the caller holds {@link #writing}. Returns false if the target cannot be written
   * now (queued records stay queued).
   */
  private boolean writeQueued(long limit) {
    if (!usable()) {
      return false;
    }
    moveQueued(limit);
    writeGathered();
    return !broken;
  }

  /**
   * Moves queued records, about {@code limit} bytes of them, into the batch being gathered (writing
   * each batch that fills); under {@link #writing}.
   */
  private void moveQueued(long limit) {
    long moved = 0;
    byte[] line;
    while (moved < limit && !broken && (line = queue.poll()) != null) {
      moved += line.length;
      queuedBytes.addAndGet(-line.length);
      add(line, line.length);
    }
  }

  /**
   * Adds a record to the batch being gathered, writing the batch first if the record does not fit
   * (and a record larger than a batch on its own); under {@link #writing}.
   */
  private void add(byte[] line, int length) {
    if (length > chunk.length - gathered) {
      writeGathered();
    }
    if (length > chunk.length) {
      write(line, length, 1);
    } else {
      System.arraycopy(line, 0, chunk, gathered, length);
      gathered += length;
      gatheredLines++;
    }
  }

  /** Writes the batch gathered so far (its records are counted lost if that fails); under {@link #writing}. */
  private void writeGathered() {
    write(chunk, gathered, gatheredLines);
    gathered = 0;
    gatheredLines = 0;
    gathering = false;
  }

  /** Writes one batch of {@code lines} records; if that fails, they are counted lost. */
  private void write(byte[] bytes, int length, int lines) {
    if (length == 0) {
      return;
    }
    if (broken) {
      onDropped.accept(lines);
      return;
    }
    try {
      target.write(bytes, length);
    } catch (IOException e) {
      onWriteError.run();
      onDropped.accept(lines);
      failed("writing", e);
    }
  }

  /** Whether the target can be written, reopening a broken one when its retry is due. */
  private boolean usable() {
    if (broken && System.nanoTime() - retryAt >= 0) {
      openTarget();
      if (!broken) {
        log.info("audit log {} is written again", target.name());
      }
    }
    return !broken;
  }

  private void openTarget() {
    try {
      target.open();
      broken = false;
    } catch (IOException e) {
      onWriteError.run();
      failed("opening", e);
    }
  }

  private void failed(String doing, IOException e) {
    target.close();
    broken = true;
    retryAt = System.nanoTime() + RETRY_NANOS;
    failures.warn("audit log {} cannot be opened or written ({} failed: {}); records wait in memory (up to {} MiB,"
        + " then they are dropped and counted) while it is retried every second", target.name(), doing, e.toString(),
        MAX_QUEUED_BYTES >> 20);
  }

  /**
   * Writes what is held, then stops the flusher and closes the target. Records offered from now on
   * are refused ({@link #offer} returns false); those being offered are still written, or counted
   * lost if the target cannot be written.
   */
  void stop() {
    if (!taking) {
      return;
    }
    taking = false;
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
    writing.lock();
    try {
      if (broken) {
        retryAt = System.nanoTime(); // one last try
      }
      writeQueued(Long.MAX_VALUE);
      long lost = gatheredLines; // none, unless the target could not be written
      gathered = 0;
      gatheredLines = 0;
      while (queue.poll() != null) {
        lost++;
      }
      if (lost > 0) {
        onDropped.accept(lost);
      }
      target.close();
    } finally {
      writing.unlock();
    }
  }
}
