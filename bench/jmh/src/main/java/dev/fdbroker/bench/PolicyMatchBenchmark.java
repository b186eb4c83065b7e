package dev.fdbroker.bench;

import dev.fdbroker.broker.policy.Caller;
import dev.fdbroker.broker.policy.Decision;
import dev.fdbroker.broker.policy.Policy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The policy matcher: one decision for a path six components deep, with a one-rule policy and
 * with 10,000 rules (exact paths and globs, at several depths, many sharing the path's prefix, the
 * same shape as bench.py's). A matcher whose cost follows the path's depth, not the rule count,
 * takes about as long with either.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PolicyMatchBenchmark {
  private static final long UID = 4242;

  @Param({"1", "10000"})
  int rules;

  private Policy policy;
  private final Caller caller = new Caller(UID, UID, 1);
  private final String allowed = "/srv/assets/render/v1/textures/t07.bin";
  private final String denied = "/srv/assets/tenant10/private/key.pem";
  private final String unmatched = "/srv/other/render/v1/textures/t07.bin";

  @Setup
  public void setUp() throws Exception {
    Path file = Files.createTempFile("fdbroker-jmh-", ".yaml");
    try {
      Files.writeString(file, policyText(rules));
      policy = Policy.load(file);
    } finally {
      Files.delete(file);
    }
    // The cases must decide as named, or the benchmark measures something else.
    check(policy.decide(caller, allowed) instanceof Decision.Allowed, allowed);
    check(!(policy.decide(caller, unmatched).allowed()), unmatched);
    if (rules > 10) {
      check(policy.decide(caller, denied) instanceof Decision.Denied, denied);
    }
  }

  private static void check(boolean ok, String path) {
    if (!ok) {
      throw new IllegalStateException("unexpected decision for " + path);
    }
  }

  static String policyText(int count) throws IOException {
    StringBuilder b = new StringBuilder("rules:\n");
    for (int i = 0; i < count - 1; i++) {
      b.append("  - name: r").append(i).append("\n    users: [").append(UID).append("]\n    allow: [");
      switch (i % 4) {
        case 0 -> b.append("\"/srv/assets/render/v").append(i).append("/config.json\"");
        case 1 -> b.append("\"/srv/assets/tenant").append(i).append("/**\"");
        case 2 -> b.append("\"/srv/assets/render/v1/shard").append(i).append("/*.bin\", \"/etc/app").append(i)
            .append("/conf.d/*.yaml\"");
        default -> b.append("\"/var/lib/app").append(i).append("/data/**/*.db\"");
      }
      b.append("]\n");
      if (i % 10 == 0) {
        b.append("    deny: [\"/srv/assets/tenant").append(i).append("/private/**\"]\n");
      }
    }
    b.append("  - name: bench\n    users: [").append(UID).append("]\n    allow: [\"/srv/assets/render/v1/textures/*.bin\"]\n");
    return b.toString();
  }

  @Benchmark
  public Decision allowed() {
    return policy.decide(caller, allowed);
  }

  @Benchmark
  public Decision denied() {
    return policy.decide(caller, denied);
  }

  @Benchmark
  public Decision noRuleMatches() {
    return policy.decide(caller, unmatched);
  }
}
