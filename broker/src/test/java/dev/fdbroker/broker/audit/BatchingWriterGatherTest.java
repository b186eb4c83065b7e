package dev.fdbroker.broker.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * {@link BatchingWriter#offer(byte[], int)}: a record handed over in the recording thread's own
 * buffer, which the thread reuses at once, copied into the batch being gathered when that is free
 * and queued when it is not, and written intact, once, in each thread's order either way.
 */
class BatchingWriterGatherTest {

  /** A target in memory, whose writes can be held up. */
  private static final class Memory extends AuditTarget {
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    volatile CountDownLatch holdWrites;
    final CountDownLatch writing = new CountDownLatch(1);

    @Override
    void open() {}

    @Override
    void write(byte[] bytes, int length) throws IOException {
      writing.countDown();
      CountDownLatch hold = holdWrites;
      if (hold != null) {
        try {
          hold.await();
        } catch (InterruptedException e) {
          throw new IOException(e);
        }
      }
      synchronized (out) {
        out.write(bytes, 0, length);
      }
    }

    @Override
    void close() {}

    @Override
    String name() {
      return "memory";
    }

    String[] lines() {
      synchronized (out) {
        String t = out.toString(StandardCharsets.UTF_8);
        return t.isEmpty() ? new String[0] : t.split("\n");
      }
    }
  }

  /** Writes {@code text} and a newline into {@code buffer} (as the thread's encoder does) and offers it. */
  private static boolean offer(BatchingWriter writer, byte[] buffer, String text) {
    byte[] bytes = (text + "\n").getBytes(StandardCharsets.UTF_8);
    System.arraycopy(bytes, 0, buffer, 0, bytes.length);
    boolean taken = writer.offer(buffer, bytes.length);
    Arrays.fill(buffer, (byte) '#'); // the thread's next record overwrites it at once
    return taken;
  }

  @Test
  void recordsFromReusedBuffersAreWrittenIntactOnceInEachThreadsOrder() throws Exception {
    Memory target = new Memory();
    AtomicLong dropped = new AtomicLong();
    BatchingWriter writer = new BatchingWriter(target, dropped::addAndGet, () -> { });
    int threads = 8;
    int each = 20_000;
    List<Thread> ts = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int id = t;
      ts.add(Thread.ofPlatform().start(() -> {
        byte[] buffer = new byte[4096];
        for (int i = 0; i < each; i++) {
          // Lengths vary, a few records longer than most, so batches fill at odd places.
          offer(writer, buffer, id + " " + i + " " + "x".repeat(i % 97 == 0 ? 3000 : i % 50));
        }
      }));
    }
    for (Thread t : ts) {
      t.join();
    }
    writer.stop();
    String[] lines = target.lines();
    assertEquals(0, dropped.get());
    assertEquals(threads * each, lines.length);
    int[] next = new int[threads];
    for (String l : lines) {
      String[] p = l.split(" ", -1);
      int t = Integer.parseInt(p[0]);
      int i = Integer.parseInt(p[1]);
      assertEquals(next[t]++, i, "thread " + t + "'s records in order");
      assertEquals("x".repeat(i % 97 == 0 ? 3000 : i % 50), p[2], "record " + t + " " + i + " intact");
    }
  }

  @Test
  void whileAWriteHoldsTheBatchRecordsAreQueuedAndFollowInOrder() throws Exception {
    Memory target = new Memory();
    AtomicLong dropped = new AtomicLong();
    BatchingWriter writer = new BatchingWriter(target, dropped::addAndGet, () -> { });
    CountDownLatch release = new CountDownLatch(1);
    target.holdWrites = release;
    byte[] buffer = new byte[256];
    try {
      offer(writer, buffer, "0");
      assertTrue(target.writing.await(5, TimeUnit.SECONDS), "the flusher is in a write, holding the batch");
      for (int i = 1; i < 1000; i++) {
        offer(writer, buffer, Integer.toString(i)); // queued: the batch is taken
      }
      target.holdWrites = null;
      release.countDown();
      for (int i = 1000; i < 2000; i++) {
        offer(writer, buffer, Integer.toString(i)); // gathered again once it is free, behind the queue
      }
    } finally {
      writer.stop();
    }
    String[] lines = target.lines();
    assertEquals(0, dropped.get());
    assertEquals(2000, lines.length);
    for (int i = 0; i < lines.length; i++) {
      assertEquals(Integer.toString(i), lines[i]);
    }
  }
}
