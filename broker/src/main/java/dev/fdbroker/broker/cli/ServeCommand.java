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
import dev.fdbroker.broker.systemd.UnitCheck;
import dev.fdbroker.broker.systemd.UserNamespace;
import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
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
        "Under socket activation (LISTEN_FDS, LISTEN_PID) the inherited socket is served and --socket is ignored.",
        "Exit 0 once stopped; 1 if another process serves the socket (or the metrics address) or serving fails;"
            + " 2 on a usage or config error, including a socket path, directory or group that cannot be used.");
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
    } catch (ConfigException e) {
      e.all().forEach(problem -> log.error("{}", problem.getMessage())); // one line each
      return Main.EXIT_USAGE;
    } catch (IllegalArgumentException e) {
      log.error("{}", e.getMessage());
      return Main.EXIT_USAGE;
    }
    policy.warnings().forEach(w -> log.warn("{}", w));
    UnitCheck.warnIfBlind(policy);
    // Looked up before anything is bound, so that a wrong name leaves no socket behind.
    GroupPrincipal group = null;
    if (socketGroup != null) {
      try {
        group = SocketBinder.group(socketGroup);
      } catch (IllegalArgumentException e) {
        log.error("--socket-group: {}", e.getMessage());
        return Main.EXIT_USAGE;
      }
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
      // Left open and alone, not closed: it is systemd's, and a later broker may serve it.
      log.warn("a metrics socket was passed but the policy does not say metrics.listen: systemd; not serving it");
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
    SocketBinder.BoundSocket bound = null;
    if (inherited.isEmpty()) {
      try {
        bound = SocketBinder.bind(socket, mode, group);
      } catch (IOException e) {
        log.error("{}", e.getMessage());
        return exitStatus(e);
      }
    }
    // Bound here, the socket file is ours to remove, however the broker stops or fails to start;
    // inherited, it belongs to the service manager.
    try (SocketBinder.BoundSocket owned = bound) {
      AFUNIXServerSocket listening = owned != null ? owned.server() : inherited.get().requests();
      MetricsEndpoint endpoint = null;
      try {
        if (MetricsAddress.SYSTEMD.equals(listen)) {
          endpoint = MetricsEndpoint.serve(inheritedMetrics.get(), metrics::scrape);
        } else if (listen != null) {
          endpoint = MetricsEndpoint.start(listen, metrics::scrape);
        }
      } catch (IOException e) {
        log.error("metrics.listen: {}", e.getMessage());
        return exitStatus(e);
      }
      AuditLog audit = AuditLog.open(policy.observability().auditFile(), metrics);
      CurrentPolicy current = new CurrentPolicy(policy);
      BrokerServer server = new BrokerServer(listening, current, opener, BrokerVersion.get(), metrics, audit);
      Daemon daemon = new Daemon(config, current, server, notify, metrics, audit);
      SignalHandlers.install(daemon::reload, daemon::stop);

      UserNamespace.partialMaps().ifPresent(maps -> log.warn("running in a user namespace ({}): a caller whose uid"
          + " or gid is not mapped into it is seen as the overflow id (65534, nobody and nogroup, by default),"
          + " so a rule for that user or group applies to every such caller", maps));
      int rules = policy.rules().size();
      log.info("fdbroker {} serving {} with policy {} ({} rule{}), opener {}", BrokerVersion.get(),
          owned != null ? owned.path() + " (mode " + socketMode + ")" : "the socket-activated socket",
          config, rules, rules == 1 ? "" : "s", opener.name());
      notify.ready(daemon.status());
      try (var heartbeat = Heartbeat.start(notify, server::isHealthy, daemon::status).orElse(null)) {
        server.serve();
      }
      if (!daemon.isStopping()) {
        log.error("the listening socket failed; stopping");
        daemon.stop();
      }
      // A socket of our own goes now, so that clients are refused at once rather than wait in its
      // backlog. An inherited one is never closed or shut down: the service manager keeps it
      // listening, and the next broker serves whoever waits in it.
      if (owned != null) {
        owned.close();
      }
      Duration limit = current.get().limits().requestTimeout().plusSeconds(2);
      daemon.finish(limit);
      if (endpoint != null) {
        endpoint.close();
      }
      audit.close();
      notify.close();
      return 0;
    }
  }

  /**
   * A socket that cannot be made as the command line or policy asks is a usage error; one that
   * could be made later (another broker holds it, a port is taken) is a failure.
   */
  private static int exitStatus(IOException e) {
    return e instanceof SocketBinder.BadSettingException ? Main.EXIT_USAGE : Main.EXIT_FAILURE;
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
