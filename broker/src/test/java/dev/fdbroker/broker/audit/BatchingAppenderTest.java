package dev.fdbroker.broker.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.EncoderBase;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class BatchingAppenderTest {

  /** Encodes an event as its message and a newline. */
  private static final class LineEncoder extends EncoderBase<ILoggingEvent> {
    @Override
    public byte[] headerBytes() {
      return null;
    }

    @Override
    public byte[] encode(ILoggingEvent event) {
      return (event.getMessage() + "\n").getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public byte[] footerBytes() {
      return null;
    }
  }

  private static OutputStreamAppender<ILoggingEvent> target(LoggerContext context, OutputStream out) {
    OutputStreamAppender<ILoggingEvent> a = new OutputStreamAppender<>();
    a.setContext(context);
    LineEncoder encoder = new LineEncoder();
    encoder.setContext(context);
    encoder.start();
    a.setEncoder(encoder);
    a.setOutputStream(out);
    a.setImmediateFlush(false);
    a.start();
    return a;
  }

  private static ILoggingEvent event(String message) {
    LoggingEvent e = new LoggingEvent();
    e.setLevel(Level.INFO);
    e.setMessage(message);
    e.setLoggerName("test");
    return e;
  }

  @Test
  void everyRecordFromManyThreadsIsWrittenOnceInEachThreadsOrder() throws Exception {
    LoggerContext context = new LoggerContext();
    ByteArrayOutputStream sink = new ByteArrayOutputStream();
    AtomicInteger dropped = new AtomicInteger();
    BatchingAppender appender = new BatchingAppender(target(context, sink), dropped::incrementAndGet);
    appender.setContext(context);
    appender.start();
    int threads = 8;
    int each = 20_000;
    List<Thread> ts = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int id = t;
      ts.add(Thread.ofPlatform().start(() -> {
        for (int i = 0; i < each; i++) {
          appender.doAppend(event(id + " " + i));
        }
      }));
    }
    for (Thread t : ts) {
      t.join();
    }
    appender.stop();
    String[] lines = sink.toString(StandardCharsets.UTF_8).split("\n");
    assertEquals(0, dropped.get());
    assertEquals(threads * each, lines.length);
    int[] next = new int[threads];
    for (String line : lines) {
      String[] p = line.split(" ");
      int t = Integer.parseInt(p[0]);
      assertEquals(next[t]++, Integer.parseInt(p[1]), "thread " + t + "'s records in order");
    }
  }

  @Test
  void everyRecordTakenWhileStoppingIsWrittenAndTheRestAreRefused() throws Exception {
    for (int trial = 0; trial < 30; trial++) {
      LoggerContext context = new LoggerContext();
      ByteArrayOutputStream sink = new ByteArrayOutputStream();
      BatchingAppender appender = new BatchingAppender(target(context, sink), () -> { });
      appender.setContext(context);
      appender.start();
      AtomicInteger taken = new AtomicInteger();
      byte[] line = "x\n".getBytes(StandardCharsets.UTF_8);
      List<Thread> ts = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        ts.add(Thread.ofPlatform().start(() -> {
          while (appender.offer(line)) {
            taken.incrementAndGet();
          }
        }));
      }
      Thread.sleep(5);
      appender.stop(); // as a reload stops the old target while requests go on
      for (Thread t : ts) {
        t.join();
      }
      assertFalse(appender.offer(line), "a stopped appender takes nothing");
      String written;
      synchronized (sink) {
        written = sink.toString(StandardCharsets.UTF_8);
      }
      assertEquals(taken.get(), written.length() / 2, "trial " + trial + ": every record taken was written, once");
    }
  }

  @Test
  void aFewRecordsReachTheFileWithinTheFlushInterval() throws Exception {
    LoggerContext context = new LoggerContext();
    ByteArrayOutputStream sink = new ByteArrayOutputStream();
    BatchingAppender appender = new BatchingAppender(target(context, sink), () -> { });
    appender.setContext(context);
    appender.start();
    try {
      appender.doAppend(event("one"));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
      while (sink.size() == 0 && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertEquals("one\n", sink.toString(StandardCharsets.UTF_8), "written without waiting for more");
    } finally {
      appender.stop();
    }
  }

  @Test
  void aStuckDiskNeverBlocksRecordingRecordsBeyondTheQueueAreDroppedAndCounted() throws Exception {
    LoggerContext context = new LoggerContext();
    CountDownLatch stuck = new CountDownLatch(1);
    CountDownLatch unstick = new CountDownLatch(1);
    OutputStream disk = new OutputStream() {
      @Override
      public void write(int b) {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) {
        stuck.countDown();
        try {
          unstick.await(); // a write that does not return, like one to a hung NFS server
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    };
    AtomicInteger dropped = new AtomicInteger();
    BatchingAppender appender = new BatchingAppender(target(context, disk), dropped::incrementAndGet);
    appender.setContext(context);
    appender.start();
    try {
      appender.doAppend(event("first"));
      assertTrue(stuck.await(5, TimeUnit.SECONDS), "the flusher is stuck in a write");
      String line = "x".repeat(999);
      int records = (int) (BatchingAppender.MAX_QUEUED_BYTES / 1000) + 5000;
      long start = System.nanoTime();
      for (int i = 0; i < records; i++) {
        appender.doAppend(event(line));
      }
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertTrue(millis < 5000, "recording went on while the disk was stuck: " + millis + " ms");
      assertTrue(dropped.get() >= 5000, "records beyond the queue were dropped and counted: " + dropped.get());
    } finally {
      unstick.countDown();
      appender.stop();
    }
  }
}
