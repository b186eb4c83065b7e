package dev.fdbroker.broker.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

class MainTest {

  @Test
  void aFailureThatIsNoUsageErrorExitsOne() {
    Callable<Integer> failing = () -> {
      throw new IllegalStateException("not the operator's fault");
    };
    CommandLine cli = Main.commandLine(CommandSpec.wrapWithoutInspection(failing).name("fail"));
    cli.setErr(new PrintWriter(new StringWriter()));
    assertEquals(1, cli.execute("fail"), "fdbroker --help: 1 is a failure");
    assertEquals(2, cli.execute("--no-such-option"), "fdbroker --help: 2 is a usage error");
  }
}
