package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The examples in docs/ run as written, so the docs cannot drift from the code. */
class DocsIT {

  @Test
  void thePythonClientInTheProtocolDocWorks() throws Exception {
    String doc = Files.readString(ItSupport.projectRoot().resolve("docs/protocol.md"));
    int start = doc.indexOf("```python\n");
    int end = doc.indexOf("```", start + 10);
    assertTrue(start >= 0 && end > start, "docs/protocol.md has a python example");
    String example = doc.substring(start + "```python\n".length(), end);
    try (Fixture f = Fixture.start("")) {
      String adapted = example
          .replace("/run/fdbroker/fdbroker.sock", f.socket.toString())
          .replace("/usr/lib/os-release", f.allowed + "/public.txt")
          .replace("/etc/shadow", f.outsideSecret.toString());
      Path script = Files.writeString(f.root.resolve("doc_example.py"), adapted);
      ItSupport.Result r = ItSupport.run(List.of(ItSupport.python(), script.toString()), Duration.ofSeconds(60))
          .assertExit(0);
      assertEquals("public\n\n" + f.outsideSecret + " denied not allowed by policy\n", r.stdout());
    }
  }

  @Test
  void theDemoPolicyAndTheDocumentedPolicyExampleAreValid() throws Exception {
    Path root = ItSupport.projectRoot();
    CliIT.fdbroker("check-config", root.resolve("config/demo-policy.yaml").toString()).assertExit(0);
    String doc = Files.readString(root.resolve("docs/policy.md"));
    int start = doc.indexOf("```yaml\n");
    String example = doc.substring(start + "```yaml\n".length(), doc.indexOf("```", start + 8))
        .replace("worker, ", "nobody, ").replace("[render]", "[nogroup]");
    Path p = Files.writeString(Files.createTempFile("policy-doc", ".yaml"), example);
    try {
      CliIT.fdbroker("check-config", p.toString()).assertExit(0);
    } finally {
      Files.delete(p);
    }
  }
}
