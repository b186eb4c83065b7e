package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fdbroker.client.BrokerFileException;
import dev.fdbroker.client.BrokeredFile;
import dev.fdbroker.client.FdBrokerClient;
import dev.fdbroker.protocol.ErrorCode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * The classic broker attack: while clients ask for an allowed path, another thread keeps swapping a
 * component of it (atomically, with renameat2 RENAME_EXCHANGE) between a real directory and a
 * symlink to a secret directory outside the allowed tree, and the final file between a real file
 * and a symlink to the secret. Every descriptor that comes back is checked by inode: not one may
 * be the secret. Both opener strategies face it.
 */
class SymlinkRaceIT {
  private static final int REQUESTS_PER_PATH = 20_000;
  private static final int CLIENT_THREADS = 4;

  @ParameterizedTest
  @ValueSource(strings = {"openat2", "walk"})
  void swappingComponentsForSymlinksNeverYieldsTheSecret(String opener) throws Exception {
    Path root = ItSupport.worldReadableTempDir("fdbroker-race-");
    try {
      Path allowed = Files.createDirectories(root.resolve("allowed"));
      Path secretDir = Files.createDirectories(root.resolve("secret"));
      Path secret = Files.writeString(secretDir.resolve("f.txt"), "SECRET");
      // Intermediate component: allowed/d is a directory, allowed/dswap a symlink to the secret directory.
      Path d = Files.createDirectories(allowed.resolve("d"));
      Path publicInDir = Files.writeString(d.resolve("f.txt"), "public");
      Path dswap = Files.createSymbolicLink(allowed.resolve("dswap"), secretDir);
      // Final component: allowed/ff is a file, allowed/ffswap a symlink to the secret file.
      Path ff = Files.writeString(allowed.resolve("ff"), "public");
      Path ffswap = Files.createSymbolicLink(allowed.resolve("ffswap"), secret);
      long secretInode = inode(secret);
      long publicDirInode = inode(publicInDir);
      long publicFileInode = inode(ff);

      Path policy = Files.writeString(root.resolve("policy.yaml"), "limits: {requests_per_second_per_uid: 100000000}\n"
          + "rules:\n  - name: racers\n    users: [" + ItSupport.myUid() + "]\n    allow: [\"" + allowed + "/**\"]\n");
      String[] jvm = opener.equals("walk") ? new String[] {"-Dfdbroker.opener=walk"} : new String[0];
      try (BrokerProcess broker = BrokerProcess.start(policy, root.resolve("broker.sock"), java.util.Map.of(), jvm)) {
        AtomicBoolean racing = new AtomicBoolean(true);
        AtomicLong swaps = new AtomicLong();
        Thread swapper = Thread.ofPlatform().start(() -> {
          while (racing.get()) {
            if (Exchange.swap(d, dswap) & Exchange.swap(ff, ffswap)) {
              swaps.incrementAndGet();
            }
          }
        });
        ConcurrentHashMap<String, LongAdder> outcomes = new ConcurrentHashMap<>();
        LongAdder secrets = new LongAdder();
        ExecutorService clients = Executors.newFixedThreadPool(CLIENT_THREADS);
        try (FdBrokerClient client = FdBrokerClient.builder(broker.socket()).maxConnections(CLIENT_THREADS).build()) {
          List<Future<?>> work = new ArrayList<>();
          for (int t = 0; t < CLIENT_THREADS; t++) {
            work.add(clients.submit(() -> {
              for (int i = 0; i < REQUESTS_PER_PATH * 2 / CLIENT_THREADS; i++) {
                String path = (i % 2 == 0 ? d.resolve("f.txt") : ff).toString();
                String outcome;
                try (BrokeredFile f = client.open(path)) {
                  long ino = inodeOf(f);
                  if (ino == secretInode) {
                    secrets.increment();
                  }
                  outcome = ino == publicDirInode || ino == publicFileInode ? "granted" : "granted-unknown-" + ino;
                } catch (BrokerFileException e) {
                  outcome = e.code().wireName();
                } catch (NoSuchFileException e) {
                  outcome = ErrorCode.NOT_FOUND.wireName(); // mid-swap, the name briefly names the other entry
                }
                outcomes.computeIfAbsent(outcome, k -> new LongAdder()).increment();
              }
              return null;
            }));
          }
          for (Future<?> w : work) {
            w.get();
          }
        } finally {
          racing.set(false);
          swapper.join();
          clients.shutdownNow();
        }
        long total = outcomes.values().stream().mapToLong(LongAdder::sum).sum();
        System.out.printf("symlink race (%s): %,d requests, %,d swaps, outcomes %s%n", opener, total, swaps.get(), outcomes);
        HostileSummary.add("race requests", total);
        HostileSummary.add("race swaps", swaps.get());
        HostileSummary.add("race runs", 1);
        HostileSummary.add("secret descriptors received (must be 0)", secrets.sum());
        assertEquals(REQUESTS_PER_PATH * 2L, total);
        assertEquals(0, secrets.sum(), "descriptors for the secret were handed out: " + outcomes);
        assertTrue(swaps.get() > 1000, "the race really raced: " + swaps.get() + " swaps");
        assertTrue(outcomes.keySet().stream().allMatch(o -> o.equals("granted") || o.equals("symlink") || o.equals("not_found")),
            "only the public files, or refusals: " + outcomes);
        assertTrue(outcomes.containsKey("granted") && outcomes.containsKey("symlink"),
            "both sides of the race were seen: " + outcomes);
      }
    } finally {
      ItSupport.deleteTree(root);
    }
  }

  private static long inode(Path p) throws IOException {
    return ((Number) Files.getAttribute(p, "unix:ino", java.nio.file.LinkOption.NOFOLLOW_LINKS)).longValue();
  }

  /** The inode of the open file itself (stat through /proc/self/fd follows to what is open, not to a name). */
  private static long inodeOf(BrokeredFile f) throws IOException {
    int fd = FileDescriptorCast.using(f.fileDescriptor()).as(Integer.class);
    return ((Number) Files.getAttribute(Path.of("/proc/self/fd/" + fd), "unix:ino")).longValue();
  }
}
