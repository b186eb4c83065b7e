package dev.fdbroker.broker.it;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestPlan;

/**
 * The figures of the hostile-caller tests (cases tried, races run, requests made, leaks found),
 * printed once when the integration tests finish. Registered as a JUnit Platform listener
 * (META-INF/services), so it sees every test class of the run.
 */
public final class HostileSummary implements TestExecutionListener {
  private static final Map<String, LongAdder> FIGURES = new ConcurrentHashMap<>();

  /** Adds {@code n} to the figure named {@code what}. */
  static void add(String what, long n) {
    FIGURES.computeIfAbsent(what, k -> new LongAdder()).add(n);
  }

  @Override
  public void testPlanExecutionFinished(TestPlan plan) {
    if (FIGURES.isEmpty()) {
      return;
    }
    StringBuilder b = new StringBuilder("\n==== hostile-caller summary ====\n");
    new TreeMap<>(FIGURES).forEach((k, v) -> b.append(String.format("  %-44s %,d%n", k, v.sum())));
    b.append("================================\n");
    System.out.println(b);
    try {
      java.nio.file.Path out = java.nio.file.Path.of(System.getProperty("fdbroker.summary.file", "target/hostile-summary.txt"));
      java.nio.file.Files.createDirectories(out.toAbsolutePath().getParent());
      java.nio.file.Files.writeString(out, b.toString());
    } catch (java.io.IOException e) {
      // the console has it
    }
  }
}
