package dev.fdbroker.broker.it;

import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A file tree, a policy over it, and a running broker, for one test class.
 *
 * <pre>
 * ROOT/srv/allowed/secret.txt           root 0600, allowed
 * ROOT/srv/allowed/public.txt           0644, allowed
 * ROOT/srv/allowed/sub/deep.txt         allowed through **
 * ROOT/srv/allowed/private/key.txt      denied by a deny pattern of the same rule
 * ROOT/srv/allowed/link-to-outside      symlink to ROOT/outside/secret.txt
 * ROOT/srv/allowed/linkdir              symlink to ROOT/outside (so linkdir/secret.txt crosses a link)
 * ROOT/srv/allowed/fifo                 a FIFO nobody writes to
 * ROOT/srv/allowed/dir/                 a directory
 * ROOT/outside/secret.txt               root 0600, not allowed
 * </pre>
 */
final class Fixture implements AutoCloseable {
  static final String SECRET = "the broker's secret, readable by root only\n";
  static final String OUTSIDE = "outside the allowed tree\n";
  static final ObjectMapper JSON = new ObjectMapper();

  final Path root;
  final Path allowed;
  final Path secret;
  final Path outsideSecret;
  final Path probe;
  Path socket;
  final Path policy;
  /** The broker, as the test starts it (root, its own socket); or null when {@link #host} runs. */
  BrokerProcess broker;
  /** The broker as the unit runs it ({@link #startOnHost}); or null. */
  HostBroker host;

  /**
   * The allowed directory as the workers rule writes it: its path, or a pattern with a variable
   * that spells its path for nobody ({@link #startWithVariable}).
   */
  private final String workersAllowed;

  private Fixture(Path root) {
    this(root, "allowed", null);
  }

  private Fixture(Path root, String allowedName, String workersAllowed) {
    this.root = root;
    this.allowed = root.resolve("srv").resolve(allowedName);
    this.workersAllowed = workersAllowed != null ? workersAllowed : allowed.toString();
    this.secret = allowed.resolve("secret.txt");
    this.outsideSecret = root.resolve("outside/secret.txt");
    this.probe = root.resolve("probe.py");
    this.socket = root.resolve("run/broker.sock");
    this.policy = root.resolve("policy.yaml");
  }

  /** Builds the tree and starts a broker; {@code limits} is YAML for the limits mapping, or "". */
  static Fixture start(String limits, String... jvmOptions) throws Exception {
    return startWith(limits.isEmpty() ? "" : "limits: " + limits, java.util.Map.of(), jvmOptions);
  }

  /**
   * Builds the tree and starts the broker as the installed unit runs it (HostBroker: its user,
   * capability, RLIMIT_NOFILE, on a socket held by another process); {@code limits} is YAML for the
   * limits mapping, or "". Needs root.
   */
  static Fixture startOnHost(String limits) throws Exception {
    Fixture f = new Fixture(ItSupport.worldReadableTempDir("fdbroker-it-"));
    try {
      f.build(limits.isEmpty() ? "" : "limits: " + limits);
      f.host = HostBroker.start(f.root, f.policy, HostBroker.Options.defaults());
      f.socket = f.host.socket();
      return f;
    } catch (Exception | Error e) {
      f.close();
      throw e;
    }
  }

  /**
   * Builds the tree and starts a broker. {@code topLevel} is YAML put before the rules (limits,
   * metrics, audit); ROOT in it stands for the fixture's directory.
   */
  static Fixture startWith(String topLevel, java.util.Map<String, String> env, String... jvmOptions) throws Exception {
    Fixture f = new Fixture(ItSupport.worldReadableTempDir("fdbroker-it-"));
    try {
      f.build(topLevel.replace("ROOT", f.root.toString()));
      f.broker = BrokerProcess.start(f.policy, f.socket, env, jvmOptions);
      return f;
    } catch (Exception | Error e) {
      f.close();
      throw e;
    }
  }

  /**
   * As {@link #start}, with nobody's rule (workers) written with {@code variable} ("user" or "uid")
   * where the allowed directory's name stands: ROOT/srv/${user}/** and its deny
   * ROOT/srv/${user}/private/**, the allowed directory being nobody's own, ROOT/srv/nobody (or
   * ROOT/srv/65534). The other rules name it literally.
   */
  static Fixture startWithVariable(String variable, String... jvmOptions) throws Exception {
    String name = switch (variable) {
      case "user" -> "nobody";
      case "uid" -> Long.toString(ItSupport.NOBODY);
      default -> throw new IllegalArgumentException(variable);
    };
    Path dir = ItSupport.worldReadableTempDir("fdbroker-it-");
    Fixture f = new Fixture(dir, name, dir.resolve("srv") + "/${" + variable + "}");
    try {
      f.build("");
      f.broker = BrokerProcess.start(f.policy, f.socket, java.util.Map.of(), jvmOptions);
      return f;
    } catch (Exception | Error e) {
      f.close();
      throw e;
    }
  }

  private void build(String topLevel) throws Exception {
    ItSupport.write(secret, SECRET, "rw-------");
    ItSupport.write(allowed.resolve("public.txt"), "public\n", "rw-r--r--");
    ItSupport.write(allowed.resolve("sub/deep.txt"), "deep\n", "rw-r--r--");
    ItSupport.write(allowed.resolve("private/key.txt"), "private key\n", "rw-r--r--");
    ItSupport.write(outsideSecret, OUTSIDE, "rw-------");
    Files.createSymbolicLink(allowed.resolve("link-to-outside"), outsideSecret);
    Files.createSymbolicLink(allowed.resolve("linkdir"), outsideSecret.getParent());
    Files.createDirectories(allowed.resolve("dir"));
    ItSupport.mkfifo(allowed.resolve("fifo"));
    Files.createDirectories(socket.getParent());
    ItSupport.installProbe(root);
    Files.writeString(policy, """
        %s
        rules:
          - name: workers
            users: [nobody, 64001]
            groups: [12345]
            allow:
              - %s/**
              - /dev/null
              - /dev/fd/**
              - /proc/**
            deny:
              - %s/private/**
          - name: high-ids
            users: [3000000000]
            groups: [3000000001]
            allow: ["%s/**"]
            deny: ["%s/secret.txt"]
          - name: test-runner
            users: [%d]
            allow: ["%s/**"]
            deny: ["%s/private/**"]
        """.formatted(topLevel, workersAllowed, workersAllowed, allowed, allowed,
            ItSupport.myUid(), allowed, allowed));
  }

  /**
   * Runs the Python probe as {@code uid}/{@code gid} with these requests and options (see
   * probe.py); returns its report.
   */
  JsonNode probe(long uid, long gid, List<?> requests, String... options) throws Exception {
    // Through a file: a large batch does not fit the kernel's limit on one argument.
    Path requestFile = Files.createTempFile(root, "requests", ".json");
    // Non-ASCII is written as JSON escapes (backslash, u, four hex digits), so that a path may carry
    // half a surrogate pair as a hostile client's could: Python reads it in and sends it on escaped.
    Files.writeString(requestFile, JSON.writer().with(JsonWriteFeature.ESCAPE_NON_ASCII).writeValueAsString(requests));
    Files.setPosixFilePermissions(requestFile, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    List<String> cmd = new ArrayList<>(List.of(ItSupport.python(), probe.toString(), socket.toString(),
        "@" + requestFile));
    cmd.addAll(List.of(options));
    ItSupport.Result r = ItSupport.run(uid == 0 ? cmd : ItSupport.asUser(uid, gid, cmd), Duration.ofSeconds(60));
    r.assertExit(0);
    return JSON.readTree(r.stdout());
  }

  @Override
  public void close() throws IOException {
    if (broker != null) {
      broker.close();
    }
    if (host != null) {
      host.close();
    }
    ItSupport.deleteTree(root);
  }
}
