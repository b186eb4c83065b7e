package dev.fdbroker.broker.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ServingThreadsTest {
  private static final Duration LONG = Duration.ofSeconds(20);

  /** A factory whose threads cannot be made until {@code gate} opens, counting what it made. */
  private static ThreadFactory gated(CountDownLatch gate, AtomicInteger made) {
    return r -> {
      try {
        gate.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      made.incrementAndGet();
      return Thread.ofPlatform().daemon(true).unstarted(r);
    };
  }

  @Test
  void handingATaskOverNeverWaitsForAThreadToStart() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    AtomicInteger made = new AtomicInteger();
    List<Runnable> refused = new CopyOnWriteArrayList<>();
    ServingThreads threads = new ServingThreads(gated(gate, made), refused::add);
    threads.start();
    CountDownLatch ran = new CountDownLatch(10);
    // Starting a thread is stuck (as Thread.start is, until the new thread first runs): the tasks
    // are taken all the same, and run once threads can be had.
    assertTimeoutPreemptively(LONG, () -> {
      for (int i = 0; i < 10; i++) {
        assertTrue(threads.execute(ran::countDown));
      }
    });
    assertEquals(10, ran.getCount(), "nothing ran before a thread could be started");
    gate.countDown();
    assertTrue(ran.await(LONG.toSeconds(), TimeUnit.SECONDS));
    assertTrue(refused.isEmpty());
    threads.shutdown();
  }

  /** A busy connection: a request at a time, never quiet, handing itself over between requests. */
  private static final class Busy implements Runnable {
    final ServingThreads threads;
    final AtomicInteger requests = new AtomicInteger();
    final AtomicInteger handedOver = new AtomicInteger();
    volatile boolean stop;
    /** Whether it offers to hand over between requests (a test may hold that back while it sets up). */
    volatile boolean handing = true;

    Busy(ServingThreads threads) {
      this.threads = threads;
    }

    @Override
    public void run() {
      while (!stop) {
        requests.incrementAndGet();
        if (handing && threads.handOver(this)) {
          handedOver.incrementAndGet();
          return;
        }
        Thread.onSpinWait();
      }
    }
  }

  /**
   * A factory that makes {@code free} threads; asked for more, it counts {@code stuckStarting} down,
   * waits for {@code gate} and runs {@code then}.
   */
  private static ThreadFactory freeThen(int free, CountDownLatch stuckStarting, CountDownLatch gate, Runnable then) {
    AtomicInteger made = new AtomicInteger();
    return r -> {
      if (made.incrementAndGet() > free) {
        stuckStarting.countDown();
        await(gate);
        then.run();
      }
      return Thread.ofPlatform().daemon(true).unstarted(r);
    };
  }

  /** Starts {@code threads} with a busy task on its one thread, making requests. */
  private static Busy startedBusy(ServingThreads threads, boolean handing) throws InterruptedException {
    threads.start();
    Busy busy = new Busy(threads);
    busy.handing = handing;
    assertTrue(threads.execute(busy));
    waitUntil(() -> busy.requests.get() > 0);
    return busy;
  }

  @Test
  void aBusyTaskHandedOverLetsTheWaitingOnesRunWhileNoThreadCanStart() throws Exception {
    // One thread can be made; every start after it is stuck (as Thread.start is under load, until
    // the new thread first runs), so the starter holds the task it took for the second thread.
    CountDownLatch stuck = new CountDownLatch(1);
    ServingThreads threads = new ServingThreads(freeThen(1, new CountDownLatch(1), stuck, () -> { }), t -> { });
    Busy busy = startedBusy(threads, true);
    assertEquals(0, busy.handedOver.get(), "not handed over while nothing waits");
    CountDownLatch first = new CountDownLatch(1);
    CountDownLatch second = new CountDownLatch(1);
    threads.execute(first::countDown);
    threads.execute(second::countDown);
    // The starter is stuck starting a thread for one of them (or for the busy task, if it took that
    // from the queue): the busy task's thread runs the others all the same.
    waitUntil(() -> first.getCount() == 0 || second.getCount() == 0);
    assertTrue(busy.handedOver.get() > 0);
    stuck.countDown();
    assertTrue(first.await(LONG.toSeconds(), TimeUnit.SECONDS));
    assertTrue(second.await(LONG.toSeconds(), TimeUnit.SECONDS));
    busy.stop = true;
    threads.shutdown();
  }

  @Test
  void refusalsWaitingDoNotMakeABusyTaskHandOver() throws Exception {
    CountDownLatch stuck = new CountDownLatch(1);
    ServingThreads threads = new ServingThreads(freeThen(1, new CountDownLatch(1), stuck, () -> { }), t -> { });
    Busy busy = startedBusy(threads, true);
    // Refusals linger (up to 500 ms each): a flood of them must not slow busy connections down.
    assertTrue(threads.executeBounded(() -> { })); // the starter takes this one, and is stuck
    assertTrue(threads.executeBounded(() -> { })); // this one waits
    int before = busy.requests.get();
    waitUntil(() -> busy.requests.get() > before + 10_000);
    assertEquals(0, busy.handedOver.get(), "a waiting refusal is no reason to hand over");
    busy.stop = true;
    stuck.countDown();
    threads.shutdown();
  }

  @Test
  void aConnectionHandedOverIsNotRefusedAtATaskLimit() throws Exception {
    // One thread; the second start is stuck, then fails as at TasksMax=.
    CountDownLatch stuckStarting = new CountDownLatch(1);
    CountDownLatch stuck = new CountDownLatch(1);
    ServingThreads threads = new ServingThreads(freeThen(1, stuckStarting, stuck, () -> {
      throw new OutOfMemoryError("unable to create native thread");
    }), refusedTasks::add);
    Busy busy = startedBusy(threads, false);
    Runnable newcomer = () -> { };
    threads.execute(newcomer); // the starter takes it, and is stuck starting its thread
    assertTrue(stuckStarting.await(LONG.toSeconds(), TimeUnit.SECONDS));
    CountDownLatch holdWaiting = new CountDownLatch(1);
    CountDownLatch waitingRuns = new CountDownLatch(1);
    threads.execute(() -> { // waits; the busy task hands over and its thread runs this, held here
      waitingRuns.countDown();
      await(holdWaiting);
    });
    busy.handing = true;
    assertTrue(waitingRuns.await(LONG.toSeconds(), TimeUnit.SECONDS));
    // Now the busy task waits in the queue. The start fails: the newcomer, never served, is
    // refused; the busy connection handed over must not be, though the starter takes it next.
    stuck.countDown();
    waitUntil(() -> refusedTasks.contains(newcomer));
    Thread.sleep(200); // time for the starter to take up the busy task, and refuse it if it would
    int before = busy.requests.get();
    holdWaiting.countDown();
    waitUntil(() -> busy.requests.get() > before); // served on by the one thread there is
    assertTrue(!refusedTasks.contains(busy), "a busy connection handed over is never refused at a limit");
    busy.stop = true;
    threads.shutdown();
  }

  private final List<Runnable> refusedTasks = new CopyOnWriteArrayList<>();

  @Test
  void anIdleThreadTakesTheNextTask() throws Exception {
    AtomicInteger made = new AtomicInteger();
    ServingThreads threads = new ServingThreads(gated(new CountDownLatch(0), made), t -> { });
    threads.start();
    for (int i = 0; i < 20; i++) {
      CountDownLatch ran = new CountDownLatch(1);
      threads.execute(ran::countDown);
      assertTrue(ran.await(LONG.toSeconds(), TimeUnit.SECONDS));
      waitUntil(threads::hasIdleThread);
    }
    assertEquals(1, made.get(), "one thread served them all, one after another");
    threads.shutdown();
  }

  @Test
  void busyThreadsTakeWaitingTasksBeforeGoingIdle() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    AtomicInteger made = new AtomicInteger();
    ServingThreads threads = new ServingThreads(gated(gate, made), t -> { });
    threads.start();
    CountDownLatch ran = new CountDownLatch(50);
    for (int i = 0; i < 50; i++) {
      threads.execute(ran::countDown);
    }
    gate.countDown();
    assertTrue(ran.await(LONG.toSeconds(), TimeUnit.SECONDS));
    assertTrue(made.get() <= 50, "at most a thread per task: " + made.get());
    threads.shutdown();
  }

  @Test
  void atATaskLimitTheTaskIsRefusedAndTheRestAreServed() throws Exception {
    // The first two threads start; then starting fails, as at TasksMax=.
    AtomicInteger made = new AtomicInteger();
    ThreadFactory limited = r -> {
      if (made.incrementAndGet() > 2) {
        throw new OutOfMemoryError("unable to create native thread: possibly out of memory or process/resource limits reached");
      }
      return Thread.ofPlatform().daemon(true).unstarted(r);
    };
    List<Runnable> refused = new CopyOnWriteArrayList<>();
    ServingThreads threads = new ServingThreads(limited, refused::add);
    threads.start();
    CountDownLatch hold = new CountDownLatch(1);
    CountDownLatch started = new CountDownLatch(2);
    Runnable holding = () -> {
      started.countDown();
      await(hold);
    };
    threads.execute(holding);
    threads.execute(holding);
    assertTrue(started.await(LONG.toSeconds(), TimeUnit.SECONDS));
    Runnable third = () -> { };
    threads.execute(third);
    waitUntil(() -> refused.contains(third));
    // Held below the limit now: a task that finds no thread free is not taken (the accepting
    // thread refuses it and pauses), and no start is tried within the probe interval.
    int attempts = made.get();
    assertTrue(!threads.execute(() -> { }), "not taken while held below the limit");
    assertEquals(attempts, made.get(), "no thread start tried within the probe interval");
    hold.countDown();
    threads.shutdown();
  }

  @Test
  void refusalsAreNotTakenPastMaxWaitingConnectionsAre() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    ServingThreads threads = new ServingThreads(gated(gate, new AtomicInteger()), t -> { });
    threads.start();
    CountDownLatch ran = new CountDownLatch(1);
    threads.execute(ran::countDown); // the starter takes this one, and is stuck starting its thread
    int taken = 0;
    for (int i = 0; i < ServingThreads.MAX_WAITING + 10; i++) {
      if (threads.executeBounded(() -> { })) {
        taken++;
      }
    }
    // MAX_WAITING, or one fewer if the starter had not yet taken the first from the queue.
    assertTrue(taken <= ServingThreads.MAX_WAITING && taken >= ServingThreads.MAX_WAITING - 1, "taken: " + taken);
    // Admitted connections are bounded by admission, not here: a crowd of them all waits.
    for (int i = 0; i < 2 * ServingThreads.MAX_WAITING; i++) {
      assertTrue(threads.execute(() -> { }), "a connection is taken however many wait");
    }
    gate.countDown();
    assertTrue(ran.await(LONG.toSeconds(), TimeUnit.SECONDS));
    threads.shutdown();
  }

  @Test
  void theStarterOutlivesAFailureToRefuse() throws Exception {
    AtomicInteger made = new AtomicInteger();
    ThreadFactory failing = r -> {
      made.incrementAndGet();
      throw new OutOfMemoryError("unable to create native thread");
    };
    AtomicInteger refusals = new AtomicInteger();
    ServingThreads threads = new ServingThreads(failing, t -> {
      if (refusals.incrementAndGet() == 1) {
        throw new OutOfMemoryError("Java heap space"); // refusing the first one fails too
      }
    });
    threads.start();
    threads.execute(() -> { });
    waitUntil(() -> refusals.get() == 1);
    // Held below the limit (none started): refused at once for the probe interval; the starter
    // itself must still be alive.
    Thread.sleep(100);
    assertTrue(threads.isRunning(), "the starter lives on");
  }

  @Test
  void afterShutdownNothingIsTakenAndWaitingTasksAreRefused() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    List<Runnable> refused = new CopyOnWriteArrayList<>();
    ServingThreads threads = new ServingThreads(gated(gate, new AtomicInteger()), refused::add);
    threads.start();
    Runnable first = () -> { };
    Runnable second = () -> { };
    threads.execute(first); // the starter takes this one, and is stuck starting its thread
    threads.execute(second); // this one waits
    threads.shutdown();
    gate.countDown();
    waitUntil(() -> refused.contains(second));
    assertTrue(!threads.execute(() -> { }), "no task taken once shut down");
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void waitUntil(java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + LONG.toNanos();
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "condition not met in time");
      Thread.sleep(5);
    }
  }
}
