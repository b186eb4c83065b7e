package dev.fdbroker.broker.server;

import java.io.IOException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.newsclub.net.unix.AFUNIXSelectorProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds the quiet connections, so that they cost no thread: one thread waits until any of them is
 * readable (junixsocket's selector) and hands that one back to a serving thread. It also closes
 * those that stay quiet past the idle timeout. The parker owns a connection from
 * {@link #park} until it hands it on.
 */
final class Parker implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(Parker.class);

  /** How often descriptors sent to quiet and retired connections are looked at, while any are unread. */
  static final long DELIVERY_CHECK_NANOS = 100_000_000;

  private final Selector selector;
  private final Predicate<Runnable> dispatch;
  private final Consumer<Connection> noThread;
  private final Queue<Connection> arrivals = new ConcurrentLinkedQueue<>();
  private final Queue<Connection> retirements = new ConcurrentLinkedQueue<>();
  private final Set<Connection> parked = new HashSet<>();
  /** Connections that have ended, kept until their client has read the descriptors sent to it. */
  private final Set<Connection> retired = new HashSet<>();
  /** When descriptors in flight are next looked at (System.nanoTime()), or MAX_VALUE if none are. */
  private long nextDeliveryCheck = Long.MAX_VALUE;
  private final List<Connection> ready = new ArrayList<>();
  private final Thread thread;
  /** When the earliest idle deadline of a parked connection falls, or MAX_VALUE. */
  private long nextSweep = Long.MAX_VALUE;
  private volatile boolean draining;
  private volatile boolean stopped;
  private volatile boolean failed;
  /** Set when the limits change (a reload): idle deadlines are looked at afresh. */
  private volatile boolean resweep;

  /**
   * @param dispatch runs a connection on a serving thread; false if no thread could be had
   * @param noThread takes a connection no thread could be had for (tells it busy, closes it)
   */
  Parker(Predicate<Runnable> dispatch, Consumer<Connection> noThread) throws IOException {
    this.dispatch = dispatch;
    this.noThread = noThread;
    this.selector = AFUNIXSelectorProvider.provider().openSelector();
    this.thread = Thread.ofPlatform().daemon(true).name("fdbroker-parker").unstarted(this);
  }

  void start() {
    thread.start();
  }

  /** Takes a quiet connection (non-blocking now); false once shutting down: the caller closes it. */
  boolean park(Connection c) {
    if (draining || failed) {
      return false;
    }
    arrivals.add(c);
    selector.wakeup();
    return true;
  }

  /**
   * Takes a connection that has ended while the descriptors sent to it are unread: it is closed once
   * they are read (or the client closes), checked every {@link #DELIVERY_CHECK_NANOS}; until then it
   * keeps its slot and its charge. False once shutting down: the caller closes it.
   */
  boolean retire(Connection c) {
    if (draining || failed) {
      return false;
    }
    retirements.add(c);
    selector.wakeup();
    return true;
  }

  @Override
  public void run() {
    try {
      while (!stopped) {
        select(timeoutMillis());
        Connection c;
        while ((c = arrivals.poll()) != null) {
          admit(c);
        }
        while ((c = retirements.poll()) != null) {
          retired.add(c);
          nextDeliveryCheck = Math.min(nextDeliveryCheck, System.nanoTime() + DELIVERY_CHECK_NANOS);
        }
        for (SelectionKey key : selector.selectedKeys()) {
          // A hang-up (the client closed) makes junixsocket's key invalid and then drops it from
          // the selector, channel still open: any selected key goes back to a thread, whose read
          // sees the end of the stream and closes.
          if (key.attachment() instanceof Connection r && parked.contains(r)) {
            ready.add(r);
          }
        }
        for (Connection r : ready) {
          unpark(r);
        }
        ready.clear();
        if (draining) {
          for (Connection p : List.copyOf(parked)) {
            forget(p);
            p.close();
          }
          closeRetired();
        }
        long now = System.nanoTime();
        if (resweep || now - nextSweep >= 0) {
          resweep = false;
          sweep(now);
        }
        if (now - nextDeliveryCheck >= 0) {
          checkDeliveries(now);
        }
      }
    } catch (IOException | RuntimeException | Error e) {
      // Whatever it was, the quiet connections are no longer watched: say so, and withhold the
      // watchdog's pings (isRunning), so that systemd restarts the broker.
      failed = true;
      log.error("the parker failed; closing the {} quiet connections", parked.size(), e);
    } finally {
      for (Connection c : List.copyOf(parked)) {
        forget(c);
        c.close();
      }
      Connection c;
      while ((c = arrivals.poll()) != null) {
        c.close();
      }
      while ((c = retirements.poll()) != null) {
        retired.add(c);
      }
      closeRetired();
      try {
        selector.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
  }

  private long timeoutMillis() {
    if (!arrivals.isEmpty() || !retirements.isEmpty()) {
      return 0;
    }
    long next = nextSweep - nextDeliveryCheck < 0 ? nextSweep : nextDeliveryCheck;
    if (next == Long.MAX_VALUE) {
      return Long.MAX_VALUE;
    }
    return Math.max(1, (next - System.nanoTime() + 999_999) / 1_000_000);
  }

  /**
   * Gives back the charge of descriptors that quiet and retired clients have read since the last
   * look, and closes the retired connections whose clients have read everything (or gone).
   */
  private void checkDeliveries(long now) {
    boolean pending = false;
    for (Connection c : parked) {
      pending |= c.holdsDescriptorsInFlight();
    }
    for (java.util.Iterator<Connection> it = retired.iterator(); it.hasNext(); ) {
      Connection c = it.next();
      if (c.holdsDescriptorsInFlight()) {
        pending = true;
      } else {
        it.remove();
        c.closeNow();
      }
    }
    nextDeliveryCheck = pending ? now + DELIVERY_CHECK_NANOS : Long.MAX_VALUE;
  }

  private void closeRetired() {
    for (Connection c : retired) {
      c.closeNow();
    }
    retired.clear();
  }

  /**
   * Waits for readiness. junixsocket's selector reports a signal that interrupts poll() (EINTR) as
   * an exception; that is retried, as is any other failure, a few times, before the parker gives up.
   */
  private void select(long timeout) throws IOException {
    for (int attempt = 1; ; attempt++) {
      try {
        if (timeout == 0) {
          selector.selectNow();
        } else {
          selector.select(timeout); // 0 would mean forever
        }
        return;
      } catch (IOException e) {
        if (!selector.isOpen() || attempt >= 100) {
          throw e;
        }
        if (!String.valueOf(e.getMessage()).contains("Interrupted system call")) {
          log.warn("parker: select failed ({}); retrying", e.toString());
          try {
            Thread.sleep(10);
          } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw e;
          }
        }
      }
    }
  }

  private void admit(Connection c) {
    if (draining) {
      c.close();
      return;
    }
    try {
      c.parkedKey = c.channel().register(selector, SelectionKey.OP_READ, c);
    } catch (IOException | RuntimeException e) {
      log.debug("connection {} could not be parked: {}", c.id(), e.toString());
      c.close();
      return;
    }
    parked.add(c);
    log.debug("connection {} parked ({} parked)", c.id(), parked.size());
    if (c.holdsDescriptorsInFlight()) {
      nextDeliveryCheck = Math.min(nextDeliveryCheck, System.nanoTime() + DELIVERY_CHECK_NANOS);
    }
    long due = c.idleDeadline();
    if (nextSweep == Long.MAX_VALUE || due - nextSweep < 0) {
      nextSweep = due;
    }
  }

  /** A request is arriving: a serving thread takes the connection (it makes it blocking again). */
  private void unpark(Connection c) {
    log.debug("connection {} unparked", c.id());
    forget(c);
    if (!dispatch.test(c)) {
      noThread.accept(c);
    }
  }

  private void forget(Connection c) {
    parked.remove(c);
    SelectionKey key = c.parkedKey;
    c.parkedKey = null;
    if (key != null) {
      key.cancel();
    }
  }

  /** Closes connections quiet past their idle timeout; finds the next deadline. */
  private void sweep(long now) {
    long next = Long.MAX_VALUE;
    for (Connection c : List.copyOf(parked)) {
      long due = c.idleDeadline();
      if (now - due >= 0) {
        log.debug("connection {} idle: closing", c.id());
        forget(c);
        c.close();
      } else if (next == Long.MAX_VALUE || due - next < 0) {
        next = due;
      }
    }
    nextSweep = next;
  }

  /** The idle timeout may have changed (a reload): each parked connection's deadline is recomputed. */
  void limitsChanged() {
    resweep = true;
    selector.wakeup();
  }

  /** Closes the parked connections, now and any parked from now on. */
  void drainAll() {
    draining = true;
    selector.wakeup();
  }

  /** Ends the parker's thread. */
  void stop() {
    stopped = true;
    selector.wakeup();
  }

  /** False once the parker has failed. */
  boolean isRunning() {
    return !failed;
  }

  /** Connections held now (read off the parker's thread: an estimate). */
  int size() {
    return parked.size();
  }
}
