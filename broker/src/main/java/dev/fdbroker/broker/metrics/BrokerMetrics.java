package dev.fdbroker.broker.metrics;

import dev.fdbroker.protocol.ErrorCode;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Everything the broker counts, in one Micrometer registry exported in the Prometheus text format.
 *
 * <p>Label values are bounded: ops, outcomes and error codes are fixed sets, and rule names come
 * from the policy. Never a path, uid or pid: those belong in the audit log, where cardinality costs
 * nothing. Meters are created once and cached, so the hot path only increments.
 */
public final class BrokerMetrics {
  /** What a request was. */
  public enum Op {
    OPEN, STAT, LIST, PING, INVALID;

    final String label = name().toLowerCase();
  }

  /** How a request ended as a whole (per-file results are counted separately). */
  public enum Outcome {
    OK, BAD_REQUEST, TOO_LARGE, BUSY;

    final String label = name().toLowerCase();
  }

  /** Why a reply could not be sent. */
  public enum SendFailure {
    /** The kernel refused the reply's descriptors (ETOOMANYREFS: too many in flight for the broker's user). */
    DESCRIPTORS_REFUSED,
    /** The client had gone (hung up, reset). */
    CLIENT_GONE,
    /** Anything else. */
    OTHER;

    final String label = name().toLowerCase();
  }

  /** Latency buckets from 10 µs to 10 s: an open is a few µs, a stuck filesystem seconds. */
  private static final Duration[] BUCKETS = {
      Duration.ofNanos(10_000), Duration.ofNanos(25_000), Duration.ofNanos(50_000), Duration.ofNanos(100_000),
      Duration.ofNanos(250_000), Duration.ofNanos(500_000), Duration.ofMillis(1), Duration.ofNanos(2_500_000),
      Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50),
      Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1),
      Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10)};

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Map<Op, Map<Outcome, LongAdder>> requests = new EnumMap<>(Op.class);
  private final Map<Op, Timer> durations = new EnumMap<>(Op.class);
  private final Map<ErrorCode, LongAdder> refusedFiles = new EnumMap<>(ErrorCode.class);
  private final LongAdder grantedFiles;
  private final LongAdder undeliveredFiles;
  private final LongAdder describedFiles;
  private final LongAdder listedEntries;
  private final LongAdder descriptorsSent;
  private final ConcurrentHashMap<String, LongAdder> allowsByRule = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, LongAdder> deniesByRule = new ConcurrentHashMap<>();
  private final AtomicInteger activeConnections = new AtomicInteger();
  private final Counter acceptedConnections;
  private final Map<Rejection, Counter> rejected = new EnumMap<>(Rejection.class);

  /** Why a connection was refused. */
  public enum Rejection {
    /** max_connections reached. */
    LIMIT,
    /** max_connections_per_uid reached for the caller's uid. */
    UID_LIMIT,
    /** The process is out of descriptors (RLIMIT_NOFILE). */
    DESCRIPTORS,
    /** No thread could be started to serve it (a task or process limit, such as TasksMax=). */
    THREADS;

    final String label = name().toLowerCase();
  }
  private final Counter reloadSuccesses;
  private final Counter reloadFailures;
  private final AtomicLong policyGeneration = new AtomicLong();
  private final AtomicLong policyRules = new AtomicLong();
  private final AtomicLong policyLoadedAtMillis = new AtomicLong();
  private final AtomicLong policyLoadNanos = new AtomicLong();
  private final Map<SendFailure, LongAdder> sendFailures = new EnumMap<>(SendFailure.class);
  private final Counter auditDropped;
  private final Counter auditWriteErrors;

  public BrokerMetrics() {
    for (Op op : Op.values()) {
      Map<Outcome, LongAdder> byOutcome = new EnumMap<>(Outcome.class);
      for (Outcome outcome : Outcome.values()) {
        byOutcome.put(outcome, counter("fdbroker.requests", "Requests answered, by op and whole-request outcome",
            "op", op.label, "outcome", outcome.label));
      }
      requests.put(op, byOutcome);
      durations.put(op, Timer.builder("fdbroker.request.duration")
          .description("Time from a complete request frame to its reply being written")
          .tag("op", op.label)
          .serviceLevelObjectives(BUCKETS)
          .register(registry));
    }
    grantedFiles = files("granted");
    undeliveredFiles = files("not_delivered");
    describedFiles = files("described");
    listedEntries = counter("fdbroker.list.entries", "Directory entries returned by list requests");
    for (ErrorCode code : ErrorCode.values()) {
      if (code != ErrorCode.TOO_LARGE) { // a whole-request error, never one path's
        refusedFiles.put(code, files(code.wireName()));
      }
    }
    descriptorsSent = counter("fdbroker.descriptors.sent", "Descriptors passed to clients");
    for (SendFailure f : SendFailure.values()) {
      sendFailures.put(f, counter("fdbroker.send.failures", "Replies that could not be sent, by reason: "
          + "descriptors_refused (the kernel refused their descriptors), client_gone, other", "reason", f.label));
    }
    Gauge.builder("fdbroker.connections.active", activeConnections, AtomicInteger::get)
        .description("Connections being served").register(registry);
    acceptedConnections = Counter.builder("fdbroker.connections.accepted")
        .description("Connections admitted").register(registry);
    for (Rejection r : Rejection.values()) {
      rejected.put(r, Counter.builder("fdbroker.connections.rejected")
          .description("Connections refused, by reason: limit (max_connections), uid_limit (max_connections_per_uid), descriptors (RLIMIT_NOFILE), threads (no thread could be started)")
          .tag("reason", r.label).register(registry));
    }
    reloadSuccesses = reloads("success");
    reloadFailures = reloads("failure");
    Gauge.builder("fdbroker.policy.generation", policyGeneration, AtomicLong::get)
        .description("How many times a policy was loaded (1 at start, +1 per successful reload)").register(registry);
    Gauge.builder("fdbroker.policy.rules", policyRules, AtomicLong::get)
        .description("Rules in the policy in force").register(registry);
    Gauge.builder("fdbroker.policy.loaded.time", policyLoadedAtMillis, v -> v.get() / 1000.0)
        .description("When the policy in force was loaded (Unix time)").baseUnit("seconds").register(registry);
    Gauge.builder("fdbroker.policy.load.duration", policyLoadNanos, v -> v.get() / 1e9)
        .description("How long reading and compiling the policy in force took").baseUnit("seconds").register(registry);
    auditDropped = Counter.builder("fdbroker.audit.dropped")
        .description("Audit records lost: the writer fell behind, a write failed, or the log was closed").register(registry);
    auditWriteErrors = Counter.builder("fdbroker.audit.write.errors")
        .description("Failures to write audit records (full disk, unwritable file)").register(registry);

    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new FileDescriptorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
  }

  private LongAdder files(String outcome) {
    return counter("fdbroker.files", "Paths answered, by outcome: granted, not_delivered (granted, but the reply did not reach the caller), described (by a stat), or the error code", "outcome", outcome);
  }

  /**
   * A counter the request path counts in a {@link LongAdder} of its own, which the registry reads
   * when scraped: Micrometer's own counters add doubles, in a compare-and-set loop on a converted
   * value. (The difference was within the benchmark's noise: the cost is mostly the cores
   * contending for the counters' cache lines.) The adder is held here; the registry only keeps a
   * weak reference to it.
   */
  private LongAdder counter(String name, String description, String... tags) {
    LongAdder adder = new LongAdder();
    FunctionCounter.builder(name, adder, LongAdder::sum).description(description).tags(tags).register(registry);
    return adder;
  }

  private Counter reloads(String result) {
    return Counter.builder("fdbroker.policy.reloads")
        .description("Policy reloads, by result").tag("result", result).register(registry);
  }

  public void request(Op op, Outcome outcome, long nanos) {
    requests.get(op).get(outcome).increment();
    durations.get(op).record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  /** A policy decision; {@code rule} is null for the default deny. */
  public void decision(boolean allowed, String rule) {
    String name = rule == null ? "none" : rule;
    ConcurrentHashMap<String, LongAdder> byRule = allowed ? allowsByRule : deniesByRule;
    LongAdder count = byRule.get(name);
    if (count == null) {
      count = byRule.computeIfAbsent(name, r -> counter("fdbroker.decisions",
          "Policy decisions, by result and deciding rule (none: default deny)",
          "decision", allowed ? "allow" : "deny", "rule", r));
    }
    count.increment();
  }

  public void fileGranted() {
    grantedFiles.increment();
  }

  /** A file granted and opened whose reply did not reach the caller (too large, or the send failed). */
  public void fileUndelivered() {
    undeliveredFiles.increment();
  }

  /** A path a stat request described. */
  public void fileDescribed() {
    describedFiles.increment();
  }

  /** Entries one page of a listing returned. */
  public void entriesListed(int n) {
    listedEntries.add(n);
  }

  public void fileRefused(ErrorCode code) {
    refusedFiles.get(code).increment();
  }

  public void descriptorsSent(int n) {
    descriptorsSent.add(n);
  }

  public void sendFailed(SendFailure why) {
    sendFailures.get(why).increment();
  }

  /** Reports {@code inFlight} as the gauge of descriptors sent and not yet received. */
  public void descriptorsInFlight(java.util.function.IntSupplier inFlight) {
    Gauge.builder("fdbroker.descriptors.in.flight", inFlight, s -> s.getAsInt())
        .description("Descriptors sent to clients and not yet received by them (charged by the kernel to the broker's user)")
        .strongReference(true).register(registry);
  }

  public void connectionOpened() {
    acceptedConnections.increment();
    activeConnections.incrementAndGet();
  }

  public void connectionClosed() {
    activeConnections.decrementAndGet();
  }

  public void connectionRejected(Rejection why) {
    rejected.get(why).increment();
  }

  public void policyLoaded(long generation, int rules, long loadNanos) {
    policyGeneration.set(generation);
    policyRules.set(rules);
    policyLoadedAtMillis.set(System.currentTimeMillis());
    policyLoadNanos.set(loadNanos);
  }

  public void reload(boolean success) {
    (success ? reloadSuccesses : reloadFailures).increment();
  }

  public void auditDropped(long records) {
    auditDropped.increment(records);
  }

  public void auditWriteError() {
    auditWriteErrors.increment();
  }

  /** The Prometheus text exposition (format 0.0.4). */
  public String scrape() {
    return registry.scrape();
  }
}
