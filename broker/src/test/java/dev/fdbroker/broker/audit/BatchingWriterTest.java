package dev.fdbroker.broker.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BatchingWriterTest {

  /** A target in memory, which can be made to fail. */
  private static final class Memory extends AuditTarget {
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    volatile boolean failing;

    @Override
    void open() throws IOException {
      if (failing) {
        throw new IOException("cannot open");
      }
    }

    @Override
    void write(byte[] bytes, int length) throws IOException {
      if (failing) {
        throw new IOException("disk full");
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

    String text() {
      synchronized (out) {
        return out.toString(StandardCharsets.UTF_8);
      }
    }

    int lines() {
      String t = text();
      return t.isEmpty() ? 0 : t.split("\n").length;
    }
  }

  private static byte[] line(String s) {
    return (s + "\n").getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void everyRecordFromManyThreadsIsWrittenOnceInEachThreadsOrder() throws Exception {
    Memory target = new Memory();
    AtomicLong dropped = new AtomicLong();
    BatchingWriter writer = new BatchingWriter(target, dropped::addAndGet, () -> { });
    int threads = 8;
    int each = 20_000;
    List<Thread> ts = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int id = t;
      ts.add(Thread.ofPlatform().start(() -> {
        for (int i = 0; i < each; i++) {
          writer.offer(line(id + " " + i));
        }
      }));
    }
    for (Thread t : ts) {
      t.join();
    }
    writer.stop();
    String[] lines = target.text().split("\n");
    assertEquals(0, dropped.get());
    assertEquals(threads * each, lines.length);
    int[] next = new int[threads];
    for (String l : lines) {
      String[] p = l.split(" ");
      int t = Integer.parseInt(p[0]);
      assertEquals(next[t]++, Integer.parseInt(p[1]), "thread " + t + "'s records in order");
    }
  }

  @Test
  void everyRecordTakenWhileStoppingIsWrittenAndTheRestAreRefused() throws Exception {
    for (int trial = 0; trial < 30; trial++) {
      Memory target = new Memory();
      BatchingWriter writer = new BatchingWriter(target, n -> { }, () -> { });
      AtomicInteger taken = new AtomicInteger();
      byte[] x = line("x");
      List<Thread> ts = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        ts.add(Thread.ofPlatform().start(() -> {
          while (writer.offer(x)) {
            taken.incrementAndGet();
          }
        }));
      }
      Thread.sleep(5);
      writer.stop(); // as the broker stops while requests go on
      for (Thread t : ts) {
        t.join();
      }
      assertFalse(writer.offer(x), "a stopped writer takes nothing");
      assertEquals(taken.get(), target.text().length() / 2, "trial " + trial + ": every record taken was written, once");
    }
  }

  @Test
  void noRecordIsLostAcrossManyRetargetsWhileRecordsPourIn() throws Exception {
    Memory first = new Memory();
    List<Memory> targets = new ArrayList<>(List.of(first));
    AtomicLong dropped = new AtomicLong();
    BatchingWriter writer = new BatchingWriter(first, dropped::addAndGet, () -> { });
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger taken = new AtomicInteger();
    List<Thread> ts = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      ts.add(Thread.ofPlatform().start(() -> {
        byte[] record = line("a record of a typical length, some eighty bytes or so, like an audit line");
        while (!stop.get()) {
          for (int i = 0; i < 100; i++) {
            if (writer.offer(record)) {
              taken.incrementAndGet();
            }
          }
          // Some 100,000 records a second per thread: the broker's full speed, where a burst beyond
          // the queue's bound is dropped by design; this test is about the reloads.
          java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
      }));
    }
    for (int i = 0; i < 300; i++) { // a storm of reloads
      Memory next = new Memory();
      targets.add(next);
      writer.retarget(next);
    }
    stop.set(true);
    for (Thread t : ts) {
      t.join();
    }
    writer.stop();
    int written = targets.stream().mapToInt(Memory::lines).sum();
    assertEquals(0, dropped.get());
    assertEquals(taken.get(), written, "every record is in one of the targets");
  }

  @Test
  void aFewRecordsReachTheTargetWithinTheFlushInterval() throws Exception {
    Memory target = new Memory();
    BatchingWriter writer = new BatchingWriter(target, n -> { }, () -> { });
    try {
      writer.offer(line("one"));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
      while (target.text().isEmpty() && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertEquals("one\n", target.text(), "written without waiting for more");
    } finally {
      writer.stop();
    }
  }

  @Test
  void recordsOfAFailedWriteAreCountedAndTheTargetIsWrittenAgainOnceItRecovers() throws Exception {
    Memory target = new Memory();
    AtomicLong dropped = new AtomicLong();
    AtomicInteger errors = new AtomicInteger();
    BatchingWriter writer = new BatchingWriter(target, dropped::addAndGet, errors::incrementAndGet);
    target.failing = true;
    int offered = 0;
    for (int i = 0; i < 2000; i++) {
      writer.offer(line("while the disk is full " + i));
      offered++;
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (errors.get() == 0 && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertTrue(errors.get() > 0, "the failure is counted");
    target.failing = false;
    for (int i = 0; i < 10; i++) {
      writer.offer(line("after " + i));
      offered++;
    }
    deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (!target.text().contains("after 9") && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    writer.stop();
    assertTrue(target.text().contains("after 9"), "written again once the target recovers");
    assertEquals(offered, target.lines() + dropped.get(), "each record is written or counted lost");
  }

  @Test
  void aFileThatCannotBeOpenedYetGetsTheRecordsOnceItCan(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("later/audit.jsonl");
    Files.writeString(dir.resolve("later"), "a file where the directory should be");
    AtomicLong dropped = new AtomicLong();
    AtomicInteger errors = new AtomicInteger();
    BatchingWriter writer = new BatchingWriter(new AuditTarget.AppendedFile(file), dropped::addAndGet,
        errors::incrementAndGet);
    try {
      assertTrue(errors.get() > 0, "the failed open is counted");
      for (int i = 0; i < 100; i++) {
        writer.offer(line("r" + i));
      }
      Files.delete(file.getParent());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while ((!Files.exists(file) || Files.readAllLines(file).size() < 100) && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertEquals(100, Files.readAllLines(file).size(), "the records waited for the file");
      assertEquals(0, dropped.get());
    } finally {
      writer.stop();
    }
  }

  @Test
  void aStuckDiskNeverBlocksRecordingRecordsBeyondTheQueueAreDroppedAndCounted() throws Exception {
    CountDownLatch stuck = new CountDownLatch(1);
    CountDownLatch unstick = new CountDownLatch(1);
    AuditTarget disk = new AuditTarget() {
      @Override
      void open() {}

      @Override
      void write(byte[] bytes, int length) {
        stuck.countDown();
        try {
          unstick.await(); // a write that does not return, like one to a hung NFS server
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }

      @Override
      void close() {}

      @Override
      String name() {
        return "stuck";
      }
    };
    AtomicLong dropped = new AtomicLong();
    BatchingWriter writer = new BatchingWriter(disk, dropped::addAndGet, () -> { });
    try {
      writer.offer(line("first"));
      assertTrue(stuck.await(5, TimeUnit.SECONDS), "the flusher is stuck in a write");
      byte[] big = line("x".repeat(999));
      int records = (int) (BatchingWriter.MAX_QUEUED_BYTES / 1000) + 5000;
      long start = System.nanoTime();
      for (int i = 0; i < records; i++) {
        writer.offer(big);
      }
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertTrue(millis < 5000, "recording went on while the disk was stuck: " + millis + " ms");
      assertTrue(dropped.get() >= 5000, "records beyond the queue were dropped and counted: " + dropped.get());
    } finally {
      unstick.countDown();
      writer.stop();
    }
  }
}
