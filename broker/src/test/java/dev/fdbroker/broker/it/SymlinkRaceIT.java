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
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * The classic broker attack: while clients ask for an allowed path, another thread keeps swapping a
 * component of it (atomically, with renameat2 RENAME_EXCHANGE) between a real directory and a
 * symlink to a secret directory outside the allowed tree, and the final file between a real file
 * and a symlink to the secret. Every descriptor that comes back is checked by inode: not one may
 * be the secret. Both opener strategies face it, with the allowed tree written literally and,
 * once each, with a variable (${user}, ${uid}) standing for its last component, which is then
 * raced as well.
 */
class SymlinkRaceIT {
  private static final int REQUESTS_PER_PATH = 20_000;
  private static final int CLIENT_THREADS = 4;

  /**
   * @param allow how the policy writes the allowed tree: {@code literal}, its path; or with a
   *     variable ({@code ${user}}, {@code ${uid}}) where its last component is the caller's own
   *     value. Then that component is raced too: swapped, now and then, for a symlink to a mirror
   *     of the tree whose files are secrets.
   */
  @ParameterizedTest
  @CsvSource({"openat2, literal", "walk, literal", "openat2, ${user}", "walk, ${uid}"})
  void swappingComponentsForSymlinksNeverYieldsTheSecret(String opener, String allow) throws Exception {
    Path root = ItSupport.worldReadableTempDir("fdbroker-race-");
    try {
      boolean variable = !allow.equals("literal");
      String value = switch (allow) {
        case "${user}" -> userName(ItSupport.myUid());
        case "${uid}" -> Integer.toString(ItSupport.myUid());
        default -> "allowed";
      };
      Path allowed = Files.createDirectories(root.resolve(variable ? "srv/" + value : "allowed"));
      String pattern = variable ? root + "/srv/" + allow + "/**" : allowed + "/**";
      Path secretDir = Files.createDirectories(root.resolve("secret"));
      Path secret = Files.writeString(secretDir.resolve("f.txt"), "SECRET");
      // Intermediate component: allowed/d is a directory, allowed/dswap a symlink to the secret directory.
      Path d = Files.createDirectories(allowed.resolve("d"));
      Path publicInDir = Files.writeString(d.resolve("f.txt"), "public");
      Path dswap = Files.createSymbolicLink(allowed.resolve("dswap"), secretDir);
      // Final component: allowed/ff is a file, allowed/ffswap a symlink to the secret file.
      Path ff = Files.writeString(allowed.resolve("ff"), "public");
      Path ffswap = Files.createSymbolicLink(allowed.resolve("ffswap"), secret);
      // The mirror: what the allowed tree's own names would reach, were the swapped-in link followed.
      Path mirror = Files.createDirectories(root.resolve("mirror"));
      Set<Long> secretInodes = Set.of(inode(secret),
          inode(ItSupport.write(mirror.resolve("d/f.txt"), "SECRET", "rw-r--r--")),
          inode(ItSupport.write(mirror.resolve("ff"), "SECRET", "rw-r--r--")));
      Path allowedSwap = variable ? Files.createSymbolicLink(root.resolve("srv/" + value + "-swap"), mirror) : null;
      long publicDirInode = inode(publicInDir);
      long publicFileInode = inode(ff);

      Path policy = Files.writeString(root.resolve("policy.yaml"), "limits: {requests_per_second_per_uid: 100000000}\n"
          + "rules:\n  - name: racers\n    users: [" + ItSupport.myUid() + "]\n    allow: [\"" + pattern + "\"]\n");
      String[] jvm = opener.equals("walk") ? new String[] {"-Dfdbroker.opener=walk"} : new String[0];
      try (BrokerProcess broker = BrokerProcess.start(policy, root.resolve("broker.sock"), java.util.Map.of(), jvm)) {
        AtomicBoolean racing = new AtomicBoolean(true);
        AtomicLong swaps = new AtomicLong();
        AtomicLong valueSwaps = new AtomicLong();
        Thread swapper = Thread.ofPlatform().start(() -> {
          while (racing.get()) {
            if (Exchange.swap(d, dswap) & Exchange.swap(ff, ffswap)) {
              swaps.incrementAndGet();
            }
            // There and straight back, so that the inner swaps above always find the real directory.
            if (variable && Exchange.swap(allowed, allowedSwap) & Exchange.swap(allowed, allowedSwap)) {
              valueSwaps.incrementAndGet();
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
                  if (secretInodes.contains(ino)) {
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
        System.out.printf("symlink race (%s, %s): %,d requests, %,d swaps (%,d of the variable's component), outcomes %s%n",
            opener, allow, total, swaps.get(), valueSwaps.get(), outcomes);
        HostileSummary.add("race requests", total);
        HostileSummary.add("race swaps", swaps.get());
        HostileSummary.add("race runs", 1);
        HostileSummary.add("secret descriptors received (must be 0)", secrets.sum());
        assertEquals(REQUESTS_PER_PATH * 2L, total);
        assertEquals(0, secrets.sum(), "descriptors for the secret were handed out: " + outcomes);
        assertTrue(swaps.get() > 1000, "the race really raced: " + swaps.get() + " swaps");
        assertTrue(!variable || valueSwaps.get() > 1000, "the variable's component was raced: " + valueSwaps.get());
        assertTrue(outcomes.keySet().stream().allMatch(o -> o.equals("granted") || o.equals("symlink") || o.equals("not_found")),
            "only the public files, or refusals: " + outcomes);
        assertTrue(outcomes.containsKey("granted") && outcomes.containsKey("symlink"),
            "both sides of the race were seen: " + outcomes);
      }
    } finally {
      ItSupport.deleteTree(root);
    }
  }

  private static String userName(int uid) throws Exception {
    String entry = Identities.getent("passwd", Integer.toString(uid));
    org.junit.jupiter.api.Assumptions.assumeTrue(entry != null, "uid " + uid + " has no user name");
    return entry.split(":")[0];
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
