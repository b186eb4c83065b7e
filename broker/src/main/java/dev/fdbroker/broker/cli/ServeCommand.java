package dev.fdbroker.broker.cli;

import dev.fdbroker.broker.BrokerVersion;
import dev.fdbroker.broker.opener.SecureOpener;
import dev.fdbroker.broker.policy.ConfigException;
import dev.fdbroker.broker.policy.CurrentPolicy;
import dev.fdbroker.broker.policy.Policy;
import dev.fdbroker.broker.server.BrokerServer;
import dev.fdbroker.broker.server.SocketBinder;
import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code fdbroker serve}: loads the policy, binds the socket and serves until stopped. */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description = "Serves the policy on a unix socket until stopped (SIGTERM or SIGINT).")
final class ServeCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

  @Option(names = "--config", required = true, paramLabel = "FILE", description = "The policy file.")
  Path config;

  @Option(names = "--socket", required = true, paramLabel = "PATH", description = "Where to listen.")
  Path socket;

  @Option(names = "--socket-mode", defaultValue = "0660", paramLabel = "MODE",
      description = "Octal permissions of the socket file (default: ${DEFAULT-VALUE}). Connecting needs write permission.")
  String socketMode;

  @Override
  public Integer call() throws IOException {
    Set<PosixFilePermission> mode;
    Policy policy;
    try {
      mode = SocketBinder.parseMode(socketMode);
      policy = Policy.load(config);
    } catch (IllegalArgumentException | ConfigException e) {
      log.error("{}", e.getMessage());
      return Main.EXIT_USAGE;
    }
    SecureOpener opener = SecureOpener.forThisKernel();
    SocketBinder.BoundSocket bound = SocketBinder.bind(socket, mode);
    BrokerServer server = new BrokerServer(bound.server(), new CurrentPolicy(policy), opener, BrokerVersion.get());
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        server.close();
        bound.close();
      } catch (IOException e) {
        log.warn("error while closing the socket: {}", e.toString());
      }
    }, "fdbroker-shutdown"));
    int rules = policy.rules().size();
    log.info("fdbroker {} serving {} (mode {}) with policy {} ({} rule{}), opener {}",
        BrokerVersion.get(), bound.path(), socketMode, config, rules, rules == 1 ? "" : "s", opener.name());
    server.serve();
    return 0;
  }
}
