import dev.fdbroker.client.BrokeredFile;
import dev.fdbroker.client.FdBrokerClient;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The bench's Java client (bench.py's {@code nio} part): one JVM, one {@link FdBrokerClient}, driven
 * by lines on standard input so that it stays warm across rounds while bench.py alternates it with
 * the C load client. Each line
 *
 * <pre>run KIND THREADS SECONDS WARMUP PATH...</pre>
 *
 * reads the given files whole, over and over, on THREADS threads (each cycling through the paths
 * from its own starting point), for WARMUP seconds not counted and SECONDS counted, and prints one
 * line of {@code key=value}: {@code ops_per_s}, {@code mib_per_s}, {@code p50_us}, {@code p99_us},
 * {@code client_cpu_us} (this process's CPU time per read, JIT and GC included), {@code ops}. KIND
 * is {@code open} ({@code client.open(p)}, then {@link BrokeredFile#readAllBytes}, then close) or
 * {@code nio} ({@code Files.readAllBytes(fs.getPath(p))} on {@code client.fileSystem()}, which
 * shares the client's connections). Every read's length is checked against the file's size. {@code
 * quit} (or end of input) ends it.
 */
public final class NioBench {
  private NioBench() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: NioBench SOCKET  (then lines: run open|nio THREADS SECONDS WARMUP PATH...)");
      System.exit(2);
    }
    try (FdBrokerClient client = FdBrokerClient.builder(Path.of(args[0])).maxConnections(4).connect()) {
      FileSystem fs = client.fileSystem();
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      System.out.println("ready");
      System.out.flush();
      for (String line; (line = in.readLine()) != null; ) {
        String[] w = line.trim().split("\\s+");
        if (w[0].equals("quit")) {
          break;
        }
        if (!w[0].equals("run") || w.length < 6) {
          throw new IllegalArgumentException("bad command: " + line);
        }
        Reader reader = reader(w[1], client, fs);
        int threads = Integer.parseInt(w[2]);
        double seconds = Double.parseDouble(w[3]);
        double warmup = Double.parseDouble(w[4]);
        List<String> paths = Arrays.asList(w).subList(5, w.length);
        System.out.println(run(reader, threads, seconds, warmup, paths));
        System.out.flush();
      }
    }
  }

  /** Reads one file whole; returns how many bytes it read. */
  @FunctionalInterface
  interface Reader {
    int read(String path) throws IOException;
  }

  static Reader reader(String kind, FdBrokerClient client, FileSystem fs) {
    switch (kind) {
      case "open":
        return p -> {
          try (BrokeredFile f = client.open(p)) {
            return f.readAllBytes().length;
          }
        };
      case "nio":
        return p -> Files.readAllBytes(fs.getPath(p)).length;
      default:
        throw new IllegalArgumentException("unknown kind: " + kind);
    }
  }

  static String run(Reader reader, int threads, double seconds, double warmup, List<String> paths)
      throws Exception {
    long[] sizes = new long[paths.size()];
    for (int i = 0; i < sizes.length; i++) {
      sizes[i] = Files.size(Path.of(paths.get(i)));
    }
    long start = System.nanoTime() + 50_000_000L; // all threads begin together
    long measureFrom = start + (long) (warmup * 1e9);
    long measureTo = measureFrom + (long) (seconds * 1e9);
    Worker[] workers = new Worker[threads];
    for (int t = 0; t < threads; t++) {
      workers[t] = new Worker(reader, paths, sizes, t * paths.size() / Math.max(1, threads), start, measureFrom, measureTo);
      workers[t].start();
    }
    var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    sleepUntil(measureFrom);
    long cpuFrom = os.getProcessCpuTime();
    sleepUntil(measureTo);
    long cpuTo = os.getProcessCpuTime();
    long ops = 0;
    long bytes = 0;
    int n = 0;
    for (Worker w : workers) {
      w.join();
      if (w.failure.get() != null) {
        throw new IllegalStateException("a read failed", w.failure.get());
      }
      ops += w.ops;
      bytes += w.bytes;
      n += w.latencies.length();
    }
    long[] all = new long[n];
    int k = 0;
    for (Worker w : workers) {
      System.arraycopy(w.latencies.values, 0, all, k, w.latencies.length());
      k += w.latencies.length();
    }
    Arrays.sort(all);
    if (ops == 0) {
      throw new IllegalStateException("no read completed in the measured time");
    }
    return String.format(java.util.Locale.ROOT,
        "ops_per_s=%.1f mib_per_s=%.2f p50_us=%.1f p99_us=%.1f client_cpu_us=%.2f ops=%d",
        ops / seconds, bytes / seconds / (1 << 20), all[n / 2] / 1e3, all[Math.min(n - 1, (int) (n * 0.99))] / 1e3,
        (cpuTo - cpuFrom) / 1e3 / ops, ops);
  }

  static void sleepUntil(long nanoTime) throws InterruptedException {
    for (long left; (left = nanoTime - System.nanoTime()) > 0; ) {
      Thread.sleep(left / 1_000_000, (int) (left % 1_000_000));
    }
  }

  static final class Worker extends Thread {
    final Reader reader;
    final List<String> paths;
    final long[] sizes;
    final int first;
    final long start;
    final long measureFrom;
    final long measureTo;
    final Longs latencies = new Longs();
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    long ops;
    long bytes;

    Worker(Reader reader, List<String> paths, long[] sizes, int first, long start, long measureFrom, long measureTo) {
      super("reader-" + first);
      this.reader = reader;
      this.paths = paths;
      this.sizes = sizes;
      this.first = first;
      this.start = start;
      this.measureFrom = measureFrom;
      this.measureTo = measureTo;
    }

    @Override
    public void run() {
      try {
        sleepUntil(start);
        int i = first;
        for (long now = System.nanoTime(); now < measureTo; ) {
          String p = paths.get(i);
          int read = reader.read(p);
          if (read != sizes[i]) {
            throw new IOException(p + ": read " + read + " bytes, the file has " + sizes[i]);
          }
          long end = System.nanoTime();
          if (now >= measureFrom && end <= measureTo) {
            ops++;
            bytes += read;
            latencies.add(end - now);
          }
          now = end;
          if (++i == paths.size()) {
            i = 0;
          }
        }
      } catch (Throwable e) {
        failure.set(e);
      }
    }
  }

  /** A growable array of longs. */
  static final class Longs {
    long[] values = new long[1 << 16];
    int size;

    void add(long v) {
      if (size == values.length) {
        values = Arrays.copyOf(values, size * 2);
      }
      values[size++] = v;
    }

    int length() {
      return size;
    }
  }
}
