package dev.fdbroker.broker.cli;

import dev.fdbroker.broker.BrokerVersion;
import dev.fdbroker.broker.Daemon;
import dev.fdbroker.broker.audit.AuditLog;
import dev.fdbroker.broker.metrics.BrokerMetrics;
import dev.fdbroker.broker.metrics.MetricsEndpoint;
import dev.fdbroker.broker.opener.SecureOpener;
import dev.fdbroker.broker.policy.ConfigException;
import dev.fdbroker.broker.policy.CurrentPolicy;
import dev.fdbroker.broker.policy.MetricsAddress;
import dev.fdbroker.broker.policy.Policy;
import dev.fdbroker.broker.server.BrokerServer;
import dev.fdbroker.broker.server.SocketBinder;
import dev.fdbroker.broker.systemd.Heartbeat;
import dev.fdbroker.broker.systemd.SdNotify;
import dev.fdbroker.broker.systemd.SignalHandlers;
import dev.fdbroker.broker.systemd.SocketActivation;
import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import org.newsclub.net.unix.AFServerSocket;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * {@code fdbroker serve}: loads the policy, takes the socket (inherited through socket activation,
 * or bound at --socket), and serves until SIGTERM. SIGHUP reloads the policy.
 */
final class ServeCommand implements Callable<Integer> {
  private final CommandSpec spec = Main.withHelpOptions(CommandSpec.wrapWithoutInspection(this))
      .name("serve")
      .addOption(OptionSpec.builder("--config").required(true).paramLabel("FILE").type(Path.class)
          .description("The policy file.").build())
      .addOption(OptionSpec.builder("--socket").paramLabel("PATH").type(Path.class)
          .description("Where to listen, unless socket-activated.").build())
      .addOption(OptionSpec.builder("--socket-mode").paramLabel("MODE").type(String.class).defaultValue("0660")
          .description("Octal permissions of the socket file (default: ${DEFAULT-VALUE}). Connecting needs write permission.")
          .build())
      .addOption(OptionSpec.builder("--socket-group").paramLabel("GROUP").type(String.class)
          .description("Group of the socket file, e.g. the group whose members may connect.").build());

  ServeCommand() {
    spec.usageMessage().description(
        "Serves the policy on a unix socket until stopped (SIGTERM or SIGINT); SIGHUP reloads the policy.",
        "Under socket activation (LISTEN_FDS, LISTEN_PID) the inherited socket is served and --socket is ignored.");
  }

  CommandSpec spec() {
    return spec;
  }

  @Override
  public Integer call() throws IOException, InterruptedException {
    // Made here, not when the class is loaded: the command line is built while logging is still
    // being set up (Preload), and a logger made then could stay silent.
    Logger log = LoggerFactory.getLogger(ServeCommand.class);
    // The metrics registry and its JVM meters take a while to set up and depend on nothing here:
    // made on a second thread while this one reads the policy and takes the socket.
    FutureTask<BrokerMetrics> metricsSetUp = new FutureTask<>(BrokerMetrics::new);
    Thread.ofPlatform().daemon(true).name("fdbroker-metrics-setup").start(metricsSetUp);
    Path config = spec.findOption("--config").getValue();
    Path socket = spec.findOption("--socket").getValue();
    String socketMode = spec.findOption("--socket-mode").getValue();
    String socketGroup = spec.findOption("--socket-group").getValue();
    Set<PosixFilePermission> mode;
    Policy policy;
    long loadStart = System.nanoTime();
    long loadNanos;
    try {
      mode = SocketBinder.parseMode(socketMode);
      policy = Policy.load(config);
      loadNanos = System.nanoTime() - loadStart;
    } catch (IllegalArgumentException | ConfigException e) {
      log.error("{}", e.getMessage());
      return Main.EXIT_USAGE;
    }
    SdNotify notify = SdNotify.fromEnvironment();
    Optional<SocketActivation.Sockets> inherited;
    try {
      inherited = SocketActivation.inherited();
    } catch (SocketActivation.ActivationException e) {
      log.error("socket activation: {}", e.getMessage());
      return Main.EXIT_USAGE;
    }
    String listen = policy.observability().metricsListen();
    Optional<AFServerSocket<?>> inheritedMetrics = inherited.flatMap(SocketActivation.Sockets::metrics);
    if (MetricsAddress.SYSTEMD.equals(listen) && inheritedMetrics.isEmpty()) {
      log.error("metrics.listen is systemd, but no socket named metrics was passed (enable fdbroker-metrics.socket)");
      return Main.EXIT_USAGE;
    }
    if (inheritedMetrics.isPresent() && !MetricsAddress.SYSTEMD.equals(listen)) {
      log.warn("a metrics socket was passed but the policy does not say metrics.listen: systemd; not serving it");
      inheritedMetrics.get().close();
    }
    if (inherited.isEmpty() && socket == null) {
      log.error("no socket: give --socket PATH, or start the broker under socket activation");
      return Main.EXIT_USAGE;
    }
    BrokerMetrics metrics = setUp(metricsSetUp);
    metrics.policyLoaded(1, policy.rules().size(), loadNanos);
    SecureOpener opener;
    try {
      opener = SecureOpener.forThisKernel();
    } catch (IllegalStateException e) {
      log.error("{}", e.getMessage());
      return Main.EXIT_FAILURE;
    }
    // Bound here, the socket file is ours to remove; inherited, it belongs to the service manager.
    SocketBinder.BoundSocket bound = inherited.isPresent() ? null : SocketBinder.bind(socket, mode, socketGroup);
    AFUNIXServerSocket listening = bound != null ? bound.server() : inherited.get().requests();
    AuditLog audit = AuditLog.open(policy.observability().auditFile(), metrics);
    MetricsEndpoint endpoint = null;
    if (MetricsAddress.SYSTEMD.equals(listen)) {
      endpoint = MetricsEndpoint.serve(inheritedMetrics.get(), metrics::scrape);
    } else if (listen != null) {
      endpoint = MetricsEndpoint.start(listen, metrics::scrape);
    }
    CurrentPolicy current = new CurrentPolicy(policy);
    BrokerServer server = new BrokerServer(listening, current, opener, BrokerVersion.get(), metrics, audit);
    Daemon daemon = new Daemon(config, current, server, notify, metrics, audit);
    SignalHandlers.install(daemon::reload, daemon::stop);

    int rules = policy.rules().size();
    log.info("fdbroker {} serving {} with policy {} ({} rule{}), opener {}", BrokerVersion.get(),
        bound != null ? bound.path() + " (mode " + socketMode + ")" : "the socket-activated socket",
        config, rules, rules == 1 ? "" : "s", opener.name());
    notify.ready(daemon.status());
    try (var heartbeat = Heartbeat.start(notify, server::isHealthy, daemon::status).orElse(null)) {
      server.serve();
    }
    if (!daemon.isStopping()) {
      log.error("the listening socket failed; stopping");
      daemon.stop();
    }
    Duration limit = current.get().limits().requestTimeout().plusSeconds(2);
    daemon.finish(limit);
    if (bound != null) {
      bound.close();
    }
    if (endpoint != null) {
      endpoint.close();
    }
    audit.close();
    notify.close();
    return 0;
  }

  private static BrokerMetrics setUp(FutureTask<BrokerMetrics> task) throws InterruptedException {
    try {
      return task.get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException("setting up the metrics failed", e.getCause());
    }
  }
}
