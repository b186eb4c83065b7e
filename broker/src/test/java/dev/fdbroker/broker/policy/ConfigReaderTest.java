package dev.fdbroker.broker.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigReaderTest {
  @TempDir
  Path dir;

  String problem(String name, String content) throws Exception {
    Path p = Files.writeString(dir.resolve(name), content);
    ConfigException e = assertThrows(ConfigException.class, () -> Policy.load(p));
    return e.getMessage();
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "base: &b [1]\\nrules: []                          | YAML anchors (&name) are not allowed",
      "rules: !!seq []                                     | YAML tags (!tag:yaml.org,2002:seq) are not allowed",
      "rules: !custom []                                   | YAML tags (!custom) are not allowed",
      "rules: [1]\\n---\\nrules: []                        | more than one document",
      "rules: [unclosed                                    | not valid YAML",
      "'': 1                                               | unknown key",
  })
  void refusesYamlThatIsNotPlainData(String yaml, String expected) throws Exception {
    String message = problem("p.yaml", yaml.replace("\\n", "\n"));
    assertTrue(message.contains(expected), message);
  }

  @Test
  void refusesAliases() throws Exception {
    String message = problem("a.yaml", "a: &x [1]\nrules: *x\n");
    assertTrue(message.contains("YAML anchors"), message);
  }

  @Test
  void refusesEmptyHugeAndDeepFiles() throws Exception {
    assertTrue(problem("empty.yaml", "").endsWith("the file is empty"));
    assertTrue(problem("comment.yaml", "# nothing\n").endsWith("the file is empty"));
    String huge = "rules: []\n" + "#".repeat(ConfigReader.MAX_BYTES);
    assertTrue(problem("huge.yaml", huge).endsWith("the file is larger than " + ConfigReader.MAX_BYTES + " bytes"));
    String deep = "rules: " + "[".repeat(100) + "]".repeat(100);
    assertTrue(problem("deep.yaml", deep).contains("not valid YAML"), problem("deep.yaml", deep));
    assertTrue(problem("deep.json", "{\"rules\": " + "[".repeat(100) + "]".repeat(100) + "}").contains("not valid JSON"));
  }

  @Test
  void aKeyGivenNoValueIsToldApartFromTheEmptyString() throws Exception {
    Path p = Files.writeString(dir.resolve("v.yaml"), "none:\nempty: ''\ntilde: ~\nnull: null\n");
    var entries = ((ConfigNode.MapNode) ConfigReader.read(p, "v.yaml")).entries();
    assertEquals("no value", ConfigNode.describe(entries.get("none").value()));
    assertEquals("the string \"\"", ConfigNode.describe(entries.get("empty").value()));
    assertEquals("null", ConfigNode.describe(entries.get("tilde").value()));
    assertEquals("null", ConfigNode.describe(entries.get("null").value()));
    Path json = Files.writeString(dir.resolve("v.json"), "{\"null\": null, \"empty\": \"\"}");
    var jsonEntries = ((ConfigNode.MapNode) ConfigReader.read(json, "v.json")).entries();
    assertEquals("null", ConfigNode.describe(jsonEntries.get("null").value()));
    assertEquals("the string \"\"", ConfigNode.describe(jsonEntries.get("empty").value()));
  }

  @Test
  void aMissingFileIsNamed() {
    Path missing = dir.resolve("nope.yaml");
    ConfigException e = assertThrows(ConfigException.class, () -> Policy.load(missing));
    assertTrue(e.getMessage().startsWith(missing + ": cannot read the file: no such file"), e.getMessage());
  }
}
