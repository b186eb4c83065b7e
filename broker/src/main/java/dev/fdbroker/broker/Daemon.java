package dev.fdbroker.broker;

import dev.fdbroker.broker.audit.AuditLog;
import dev.fdbroker.broker.metrics.BrokerMetrics;
import dev.fdbroker.broker.policy.ConfigException;
import dev.fdbroker.broker.policy.CurrentPolicy;
import dev.fdbroker.broker.policy.Policy;
import dev.fdbroker.broker.server.BrokerServer;
import dev.fdbroker.broker.systemd.SdNotify;
import dev.fdbroker.broker.systemd.UnitCheck;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running broker's lifecycle: reload the policy on request (SIGHUP), stop on request
 * (SIGTERM), and tell systemd each step.
 */
public final class Daemon {
  private static final Logger log = LoggerFactory.getLogger(Daemon.class);

  private final Path config;
  private final CurrentPolicy policy;
  private final BrokerServer server;
  private final SdNotify notify;
  private final BrokerMetrics metrics;
  private final AuditLog audit;
  private int generation = 1;
  private LocalTime loadedAt = LocalTime.now().truncatedTo(ChronoUnit.SECONDS);
  private volatile String lastReloadProblem;
  private volatile boolean stopping;

  public Daemon(Path config, CurrentPolicy policy, BrokerServer server, SdNotify notify, BrokerMetrics metrics,
      AuditLog audit) {
    this.config = config;
    this.policy = policy;
    this.server = server;
    this.notify = notify;
    this.metrics = metrics;
    this.audit = audit;
  }

  /**
   * Reloads the policy file. Atomic: the new policy serves every request that starts after it is
   * in force, a request in progress finishes under the old one, and a policy that does not load is
   * rejected whole (logged, reported in STATUS) while the old one keeps serving.
   */
  public synchronized void reload() {
    if (stopping) {
      return;
    }
    notify.reloading("reloading " + config);
    long start = System.nanoTime();
    try {
      Policy next = Policy.load(config);
      Policy previous = policy.get();
      policy.replace(next);
      server.limitsChanged();
      generation++;
      loadedAt = LocalTime.now().truncatedTo(ChronoUnit.SECONDS);
      lastReloadProblem = null;
      metrics.policyLoaded(generation, next.rules().size(), System.nanoTime() - start);
      metrics.reload(true);
      // Reopening also starts a fresh file after log rotation.
      audit.reopen(next.observability().auditFile());
      if (!java.util.Objects.equals(previous.observability().metricsListen(), next.observability().metricsListen())) {
        log.warn("metrics.listen changed; the endpoint moves at the next restart");
      }
      log.info("policy reloaded from {}: {} rules (generation {})", config, next.rules().size(), generation);
      next.warnings().forEach(w -> log.warn("{}", w));
      UnitCheck.warnIfBlind(next);
    } catch (ConfigException e) {
      lastReloadProblem = e.all().get(0).getMessage()
          + (e.all().size() > 1 ? " (and " + (e.all().size() - 1) + " more)" : "");
      metrics.reload(false);
      // One line per problem, the first on the line that says what happened.
      log.error("policy reload rejected, the policy in force stays: {}", e.all().get(0).getMessage());
      e.all().stream().skip(1).forEach(problem -> log.error("policy reload rejected, also: {}", problem.getMessage()));
    } catch (RuntimeException e) {
      lastReloadProblem = e.toString();
      metrics.reload(false);
      log.error("policy reload failed, the policy in force stays", e);
    }
    notify.ready(status());
  }

  /**
   * Begins shutdown: stop accepting, so that {@link BrokerServer#serve()} returns; the caller then
   * closes the listening socket if it is its own, and calls {@link #finish}.
   */
  public void stop() {
    synchronized (this) {
      if (stopping) {
        return;
      }
      stopping = true;
    }
    log.info("stopping: no new connections; letting requests in progress finish");
    notify.stopping("stopping");
    server.stopAccepting();
  }

  /** Drains the connections, waiting at most {@code grace}. */
  public void finish(Duration grace) throws InterruptedException {
    boolean clean = server.drain(grace);
    if (clean) {
      log.info("stopped");
    } else {
      log.warn("stopped with {} connections still busy after {}", server.activeConnections(), grace);
    }
  }

  public boolean isStopping() {
    return stopping;
  }

  /** One line for systemd's STATUS=. */
  public String status() {
    Policy p = policy.get();
    String s = "serving " + server.activeConnections() + " connections, " + server.requestsServed()
        + " requests; policy " + config + " (" + p.rules().size() + " rules, generation " + generation
        + ", loaded " + loadedAt + ")";
    String problem = lastReloadProblem;
    return problem == null ? s : s + "; last reload rejected: " + problem;
  }
}
