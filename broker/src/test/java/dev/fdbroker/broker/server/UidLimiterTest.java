package dev.fdbroker.broker.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class UidLimiterTest {

  @Test
  void countsConnectionsPerUidAndForgetsAUidOnceItHoldsNoneAndItsBucketIsFull() {
    UidLimiter limiter = new UidLimiter();
    UidLimiter.Account a = limiter.admit(1000, 2, 1000);
    UidLimiter.Account b = limiter.admit(1000, 2, 1000);
    assertNotNull(a);
    assertNotNull(b);
    assertNull(limiter.admit(1000, 2, 1000), "a third connection over the per-uid limit");
    assertNotNull(limiter.admit(1001, 2, 1000), "another uid has its own count");
    a.release();
    a.release(); // twice counts once
    assertNotNull(limiter.admit(1000, 2, 1000), "a slot came free");
    assertEquals(2, limiter.tracked());
  }

  @Test
  void aBurstOfOneSecondsWorthPassesThenTheRateHolds() throws InterruptedException {
    UidLimiter limiter = new UidLimiter();
    UidLimiter.Account a = limiter.admit(7, 10, 100);
    int passed = 0;
    for (int i = 0; i < 150; i++) {
      if (a.tryRequest(100, System.nanoTime())) {
        passed++;
      }
    }
    assertTrue(passed >= 100 && passed <= 102, "the bucket holds one second's worth: " + passed);
    assertFalse(a.tryRequest(100, System.nanoTime()));
    Thread.sleep(120); // about 12 tokens come back
    int refilled = 0;
    while (a.tryRequest(100, System.nanoTime())) {
      refilled++;
    }
    assertTrue(refilled >= 8 && refilled <= 30, "refills at the rate: " + refilled);
  }

  @Test
  void reconnectingBuysNoFreshBucket() {
    UidLimiter limiter = new UidLimiter();
    UidLimiter.Account a = limiter.admit(7, 10, 50);
    while (a.tryRequest(50, System.nanoTime())) {
      // empty the bucket
    }
    a.release();
    UidLimiter.Account b = limiter.admit(7, 10, 50);
    assertFalse(b.tryRequest(50, System.nanoTime()), "the uid's state outlived its last connection while its bucket was not full");
  }

  @Test
  void concurrentRequestsNeverTakeMoreThanTheBucketHolds() throws InterruptedException {
    UidLimiter limiter = new UidLimiter();
    UidLimiter.Account a = limiter.admit(9, 64, 1000);
    AtomicInteger passed = new AtomicInteger();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      threads.add(Thread.ofPlatform().start(() -> {
        for (int i = 0; i < 500; i++) {
          if (a.tryRequest(1000, System.nanoTime())) {
            passed.incrementAndGet();
          }
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    // 4000 attempts within well under a second: the bucket's 1000, and what refilled meanwhile.
    assertTrue(passed.get() >= 1000 && passed.get() < 1500, "passed " + passed.get());
  }
}
