package dev.fdbroker.broker.server;

import java.time.Duration;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedTransferQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The serving threads: a task (a connection to serve, a refusal to tell) goes to an idle thread if
 * one is waiting, else it waits in a queue while the starter thread starts a thread for it; a
 * thread that finishes a task takes the next waiting one before it goes idle. Idle threads end
 * after {@link #KEEP_ALIVE}.
 *
 * <p>Why a starter: {@code Thread.start} returns only once the new thread has first run, and under
 * load that is a wait for the scheduler, up to tens of milliseconds with hundreds of threads
 * runnable. Started on the accepting thread (or the parker), every connection behind it waited
 * for each of those in turn: with 256 busy connections, new ones went seconds without a reply.
 * Now the threads that hand work over never wait for a thread to start.
 *
 * <p>Connections need not wait for a thread to start either: while connections wait, a busy one
 * goes behind them after each reply ({@link #handOver}), and its thread takes the oldest waiting
 * task; the starter meanwhile starts threads, until each busy connection has one again. A
 * connection handed over was being served, so it is never refused for want of a thread: at a task
 * limit it waits its turn among the threads there are. Only a shutdown refuses it.
 *
 * <p>Starting a thread fails at the service's task limit (TasksMax=, a pids cgroup) or the user's
 * process limit ("unable to create native thread", an OutOfMemoryError): that costs the task it
 * was for, which is refused ({@code noThread}), never the broker. The threads are then held to a
 * few fewer than there were ({@link #THREADS_KEPT_FREE}), since the JVM needs threads of its own
 * (a signal's handler runs on a new one, so at the very limit a SIGTERM would be lost), and a task
 * that finds no thread free is not taken ({@link #execute} returns false: the accepting thread
 * refuses it and pauses, so that a flood waits in the kernel's backlog rather than in the
 * broker's descriptors); every few seconds one start beyond that is tried again, in case the limit
 * was raised. A refusal ({@link #executeBounded}) is not taken either while {@link #MAX_WAITING}
 * refusals wait already: connections are bounded by admission ({@code max_connections}), refusals of a
 * flood are not.
 */
final class ServingThreads {
  private static final Logger log = LoggerFactory.getLogger(ServingThreads.class);
  /** Idle threads end after this long. */
  static final Duration KEEP_ALIVE = Duration.ofSeconds(2);
  /** Threads left to the JVM once a task limit has been met. */
  private static final int THREADS_KEPT_FREE = 4;
  private static final long PROBE_NANOS = TimeUnit.SECONDS.toNanos(5);
  /**
   * Refusals waiting for a thread beyond which another is not taken: a crowd of admitted
   * connections waits, however many (admission bounds them), while a flood of refusals is told busy
   * where it arrives (each waiting refusal holds a socket).
   */
  static final int MAX_WAITING = 256;

  /**
   * A task that answers a connection and ends, such as a refusal: it waits for a thread like any
   * task, within {@link #MAX_WAITING}, but never makes a busy connection hand its thread over (a
   * flood of them would slow every busy connection down).
   */
  interface Brief extends Runnable { }

  /** A busy connection handed over between two requests ({@link #handOver}): never refused for want of a thread. */
  private record HandedOver(Runnable task) implements Runnable {
    @Override
    public void run() {
      task.run();
    }
  }

  private final ThreadFactory factory;
  private final Consumer<Runnable> noThread;
  /** Idle threads wait here for a task handed straight to them. */
  private final LinkedTransferQueue<Runnable> idle = new LinkedTransferQueue<>();
  /** Tasks no idle thread took: for the next thread to come free, or to be started. */
  private final ConcurrentLinkedQueue<Runnable> waiting = new ConcurrentLinkedQueue<>();
  private final AtomicInteger threads = new AtomicInteger();
  /** Tasks in {@link #waiting} other than {@link Brief} ones: connections (counted before added, after taken). */
  private final AtomicInteger waitingConnections = new AtomicInteger();
  /** {@link Brief} tasks in {@link #waiting}. */
  private final AtomicInteger waitingBrief = new AtomicInteger();
  private final Thread starter;
  /** The most threads, once a limit was met; else MAX_VALUE. The starter's alone to change. */
  private volatile int maxThreads = Integer.MAX_VALUE;
  private volatile long nextProbe;
  private volatile boolean shutdown;

  /**
   * @param factory makes the serving threads
   * @param noThread refuses a task no thread could be had for, or that waited as the pool shut down
   *     (tells it busy, closes it); runs on the starter
   */
  ServingThreads(ThreadFactory factory, Consumer<Runnable> noThread) {
    this.factory = factory;
    this.noThread = noThread;
    this.starter = Thread.ofPlatform().daemon(true).name("fdbroker-starter").unstarted(this::startThreads);
  }

  void start() {
    starter.start();
  }

  /**
   * Runs {@code task} (an admitted connection) on a serving thread, soon; false if it is not taken:
   * shut down, or held below a task limit with no thread free (the caller refuses it).
   */
  boolean execute(Runnable task) {
    return offer(task);
  }

  /** As {@link #execute}, for a refusal: not taken either while {@link #MAX_WAITING} refusals wait. */
  boolean executeBounded(Brief task) {
    return offer(task);
  }

  private boolean offer(Runnable task) {
    if (shutdown) {
      return false;
    }
    if (idle.tryTransfer(task)) {
      return true;
    }
    if (maxThreads != Integer.MAX_VALUE && threads.get() >= maxThreads && System.nanoTime() - nextProbe < 0) {
      return false;
    }
    if (task instanceof Brief) {
      if (waitingBrief.incrementAndGet() > MAX_WAITING) {
        waitingBrief.decrementAndGet();
        return false;
      }
    } else {
      waitingConnections.incrementAndGet();
    }
    waiting.add(task);
    LockSupport.unpark(starter);
    if (shutdown) {
      refuseWaiting(); // the starter may have ended already
    }
    return true;
  }

  /**
   * Queues {@code task}, a busy connection between two requests, behind the connections waiting for
   * a thread, if any wait ({@link Brief} tasks do not count); true if it did, and then the calling
   * thread, once its task returns, takes the oldest waiting task ({@link #next}). False, and nothing
   * done, if none wait or once shut down: the caller serves on. A task handed over is never refused
   * for want of a thread (only by a shutdown): a thread is started for it if one can be, and at a
   * task limit it waits for the threads there are, which serve the waiting in turn.
   *
   * <p>Why: without it a connection that keeps its client busy keeps its thread, and a task that
   * finds every thread so held waits for a thread to start; under load that is a wait for the
   * scheduler per start (measured here with 256 busy connections: 2.6 to 14 ms at the median, 77 to
   * 110 ms at the 90th percentile), so a crowd of new connections waited for a start each, and with
   * 1,024 busy connections hundreds waited for seconds. Handed over, the waiting tasks are served
   * in their order by the threads there are, while the starter starts more.
   */
  boolean handOver(Runnable task) {
    if (shutdown || waitingConnections.get() <= 0) {
      return false;
    }
    HandedOver handed = new HandedOver(task);
    waitingConnections.incrementAndGet();
    waiting.add(handed);
    if (maxThreads == Integer.MAX_VALUE || System.nanoTime() - nextProbe >= 0) {
      // A thread may be started for it (at a limit, once the probe is due: the limit may have been
      // raised); else the starter would only put it back.
      LockSupport.unpark(starter);
    }
    if (shutdown && waiting.remove(handed)) {
      // Shut down meanwhile, and the starter, which refuses what waits, may have ended already:
      // taken back, it stays with the caller, whose connection ends as it drains.
      waitingConnections.decrementAndGet();
      return false;
    }
    return true;
  }

  /** Whether the starter is alive (for the watchdog): without it, a crowd would wait for good. */
  boolean isRunning() {
    return starter.isAlive() || shutdown;
  }

  /** Whether a thread is idle, waiting for a task. */
  boolean hasIdleThread() {
    return idle.hasWaitingConsumer();
  }

  /** Serving threads now (busy and idle). */
  int size() {
    return threads.get();
  }

  /** Takes no more tasks; idle threads end, busy ones when done; tasks still waiting are refused. */
  void shutdown() {
    shutdown = true;
    LockSupport.unpark(starter);
  }

  private void startThreads() {
    while (true) {
      try {
        Runnable task = poll();
        if (task == null) {
          if (shutdown) {
            refuseWaiting(); // what came between the poll and the look at shutdown
            return;
          }
          LockSupport.park(this);
          continue;
        }
        if (shutdown) {
          refuse(task);
        } else if (!idle.tryTransfer(task)) { // a thread may have come free meanwhile
          startFor(task);
        }
      } catch (RuntimeException | Error e) {
        // Whatever it was (an OutOfMemoryError refusing a task, say), the starter goes on: without
        // it every task that finds no idle thread would wait for good.
        log.error("the serving threads' starter failed; going on", e);
        LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(10));
      }
    }
  }

  private Runnable poll() {
    Runnable task = waiting.poll();
    if (task != null) {
      if (task instanceof Brief) {
        waitingBrief.decrementAndGet();
      } else {
        waitingConnections.decrementAndGet();
      }
    }
    return task;
  }

  private void refuseWaiting() {
    Runnable task;
    while ((task = poll()) != null) {
      refuse(task);
    }
  }

  private void refuse(Runnable task) {
    noThread.accept(task instanceof HandedOver h ? h.task() : task);
  }

  /**
   * Puts a connection handed over back in the queue when no thread can be started for it (at a task
   * limit): the threads there are serve it in turn. The starter then waits for the probe, not to
   * take it up again and again meanwhile.
   */
  private void keepWaiting(Runnable handed, long now) {
    if (idle.tryTransfer(handed)) {
      return; // a thread came free meanwhile (and may have found the queue empty)
    }
    waitingConnections.incrementAndGet();
    waiting.add(handed);
    LockSupport.parkNanos(this, Math.max(0, nextProbe - now));
  }

  private void startFor(Runnable task) {
    long now = System.nanoTime();
    if (maxThreads != Integer.MAX_VALUE && now - nextProbe >= 0) {
      maxThreads = Integer.MAX_VALUE; // the limit may have been raised: try once more
      nextProbe = now + PROBE_NANOS;
    }
    if (threads.get() >= maxThreads) {
      noThreadFor(task, now);
      return;
    }
    threads.incrementAndGet();
    try {
      factory.newThread(() -> serve(task)).start();
    } catch (OutOfMemoryError | RuntimeException e) {
      threads.decrementAndGet();
      maxThreads = Math.max(1, threads.get() - THREADS_KEPT_FREE);
      nextProbe = now + PROBE_NANOS;
      // Tasks are refused where they arrive now (execute); what already waits is refused as its
      // turn comes, without another try until the probe; a connection handed over waits on.
      noThreadFor(task, now);
    }
  }

  /** A task no thread can be started for: refused, unless it is a connection handed over (it waits on). */
  private void noThreadFor(Runnable task, long now) {
    if (task instanceof HandedOver) {
      keepWaiting(task, now);
    } else {
      refuse(task);
    }
  }

  private void serve(Runnable first) {
    try {
      Runnable task = first;
      while (task != null) {
        try {
          task.run();
        } catch (RuntimeException | Error e) {
          log.error("a serving task failed", e);
        }
        task = next();
      }
    } finally {
      threads.decrementAndGet();
      if (!waiting.isEmpty()) {
        LockSupport.unpark(starter); // a task came as this thread was ending
      }
    }
  }

  /** The next task: one waiting, or one handed over while idle; null to end the thread. */
  private Runnable next() {
    if (shutdown) {
      return null; // what still waits is the starter's to refuse
    }
    Runnable task = poll();
    if (task != null) {
      return task;
    }
    if (threads.get() > maxThreads) {
      return null; // held below a limit: the threads beyond it end as soon as they are idle
    }
    try {
      task = idle.poll(KEEP_ALIVE.toNanos(), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      return null;
    }
    return task != null ? task : poll();
  }
}
