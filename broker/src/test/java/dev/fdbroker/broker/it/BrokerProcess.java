package dev.fdbroker.broker.it;

import dev.fdbroker.client.FdBrokerClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.stream.Stream;

/** The real broker, started as its own process from the packaged jar. */
final class BrokerProcess implements RunningBroker {
  private final Process process;
  private final Path socket;
  private final Path log;

  private BrokerProcess(Process process, Path socket, Path log) {
    this.process = process;
    this.socket = socket;
    this.log = log;
  }

  /**
   * Starts {@code fdbroker serve} and waits until it answers a ping. The socket is mode 0666 so that
   * unprivileged test users can connect; the policy decides what they get.
   */
  static BrokerProcess start(Path policy, Path socket, String... jvmOptions) throws Exception {
    return start(policy, socket, java.util.Map.of(), jvmOptions);
  }

  /** As {@link #start(Path, Path, String...)}, with extra environment variables. */
  static BrokerProcess start(Path policy, Path socket, java.util.Map<String, String> env, String... jvmOptions)
      throws Exception {
    return start(policy, socket, env, List.of(), jvmOptions);
  }

  /** As {@link #start(Path, Path, String...)}, run under a command prefix such as {@code prlimit --nofile=64}. */
  static BrokerProcess start(Path policy, Path socket, java.util.Map<String, String> env, List<String> prefix,
      String... jvmOptions) throws Exception {
    Path log = logFile(socket);
    List<String> cmd = new ArrayList<>(prefix);
    cmd.add(ItSupport.java());
    cmd.addAll(List.of(jvmOptions));
    cmd.addAll(List.of("-jar", ItSupport.brokerJar().toString(), "serve",
        "--config", policy.toString(), "--socket", socket.toString(), "--socket-mode", "0666"));
    ProcessBuilder pb = new ProcessBuilder(cmd)
        .redirectErrorStream(true)
        .redirectOutput(log.toFile());
    pb.environment().put("FDBROKER_LOG_LEVEL", "DEBUG");
    pb.environment().putAll(env);
    Process p = pb.start();
    BrokerProcess broker = new BrokerProcess(p, socket, log);
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (true) {
      if (!p.isAlive()) {
        throw new IllegalStateException("broker exited with " + p.exitValue() + ":\n" + broker.log());
      }
      if (Files.exists(socket)) {
        try (FdBrokerClient c = FdBrokerClient.connect(socket)) {
          return broker;
        } catch (IOException notYet) {
          // bound but not accepting yet
        }
      }
      if (System.nanoTime() > deadline) {
        broker.close();
        throw new IllegalStateException("broker did not come up within 30 s:\n" + broker.log());
      }
      Thread.sleep(20);
    }
  }

  @Override
  public Path socket() {
    return socket;
  }

  /** Where the broker's stdout and stderr go. */
  static Path logFile(Path socket) {
    return socket.resolveSibling(socket.getFileName() + ".log");
  }

  @Override
  public long pid() {
    return process.pid();
  }

  @Override
  public boolean isAlive() {
    return process.isAlive();
  }

  @Override
  public String log() {
    try {
      return Files.readString(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /** Heap in use right after a full GC, in bytes (from jcmd, the JDK's own tool). */
  long heapAfterGc() throws Exception {
    String jcmd = Path.of(ItSupport.java()).resolveSibling("jcmd").toString();
    ItSupport.run(List.of(jcmd, Long.toString(pid()), "GC.run"), java.time.Duration.ofSeconds(60)).assertExit(0);
    String info = ItSupport.run(List.of(jcmd, Long.toString(pid()), "GC.heap_info"), java.time.Duration.ofSeconds(60))
        .assertExit(0).stdout();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("used (\\d+)K").matcher(info);
    if (!m.find()) {
      throw new IllegalStateException("no heap figure in:\n" + info);
    }
    return Long.parseLong(m.group(1)) * 1024;
  }

  /** Resident memory, in bytes. */
  long rss() throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid()), "status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    throw new IllegalStateException("no VmRSS");
  }

  /**
   * The descriptor count once it has held still for half a second (connections that just ended
   * close asynchronously), for a baseline.
   */
  int quiescentDescriptors() throws InterruptedException {
    int last = openDescriptors();
    int steady = 0;
    for (int i = 0; i < 100 && steady < 5; i++) {
      Thread.sleep(100);
      int now = openDescriptors();
      steady = now == last ? steady + 1 : 0;
      last = now;
    }
    return last;
  }

  /**
   * The broker's threads once no idle serving thread is left: the count unchanged for longer than
   * the broker keeps an idle thread (2 s), at most 15 s.
   */
  int quiescentThreads() throws InterruptedException {
    int last = osThreads();
    long steadySince = System.nanoTime();
    long deadline = steadySince + TimeUnit.SECONDS.toNanos(15);
    while (System.nanoTime() - steadySince < TimeUnit.MILLISECONDS.toNanos(2500) && System.nanoTime() < deadline) {
      Thread.sleep(100);
      int now = osThreads();
      if (now != last) {
        last = now;
        steadySince = System.nanoTime();
      }
    }
    return last;
  }

  /**
   * Waits until {@code probe} reports at most {@code expected}, for up to 10 s (connections close
   * asynchronously); returns the last value seen.
   */
  static int settlesTo(IntSupplier probe, int expected) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    int v;
    while ((v = probe.getAsInt()) > expected && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    return v;
  }

  /** Sends SIGTERM and waits for the process to end. */
  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(15, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor();
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
