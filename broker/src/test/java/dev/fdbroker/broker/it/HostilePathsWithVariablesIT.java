package dev.fdbroker.broker.it;

import static dev.fdbroker.broker.it.ItSupport.NOBODY;
import static dev.fdbroker.broker.it.ItSupport.NOGROUP;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The whole of {@link HostilePathsIT} (the corpus, the hard link, the bind mount), with nobody's
 * rule written with a variable where the allowed directory's name stands: ROOT/srv/${user}/** with
 * openat2, ROOT/srv/${uid}/** with walk. A component matched through the caller's value must hold
 * against every hostile path as a literal one does: the corpus expects the very same answers.
 *
 * <p>And paths aimed at the variable itself: names that are nobody's value plus or minus a
 * character, another user's value, the value in another case or with a leading zero, the
 * pattern's own text, a glob. Each exists, holding a readable file, so that only the policy can
 * answer it denied.
 */
class HostilePathsWithVariablesIT extends HostilePathsIT {

  @Override
  Fixture fixture(String opener, String... jvmOptions) throws Exception {
    String variable = opener.equals("openat2") ? "user" : "uid";
    Fixture f = Fixture.startWithVariable(variable, jvmOptions);
    String policy = java.nio.file.Files.readString(f.policy);
    if (!policy.contains("/srv/${" + variable + "}/**") || !policy.contains("/srv/${" + variable + "}/private/**")) {
      f.close();
      throw new AssertionError("nobody's rule is not written with ${" + variable + "}:\n" + policy);
    }
    return f;
  }

  @ParameterizedTest
  @ValueSource(strings = {"openat2", "walk"})
  @Order(4)
  void namesNextToTheCallersValueAreNotItsValue(String opener) throws Exception {
    Fixture f = brokers.get(opener);
    Path srv = f.allowed.getParent();
    String own = f.allowed.getFileName().toString();
    List<String> lookAlikes = new ArrayList<>(List.of(own + "x", own.substring(0, own.length() - 1), own + " ",
        " " + own, "0" + own, "root", "0", "${user}", "${uid}", "*", "**", own + "\\", "allowed"));
    if (!own.toUpperCase(java.util.Locale.ROOT).equals(own)) {
      lookAlikes.add(own.toUpperCase(java.util.Locale.ROOT));
    }
    Map<String, String> expected = new LinkedHashMap<>();
    List<String> paths = new ArrayList<>();
    for (String name : lookAlikes) {
      String path = srv.resolve(name).resolve("public.txt").toString();
      ItSupport.write(Path.of(path), "look-alike\n", "rw-r--r--");
      paths.add(path);
      expected.put(path, "denied");
    }
    // Nobody's own still holds, in the same request.
    String ownPublic = f.allowed.resolve("public.txt").toString();
    paths.add(ownPublic);
    expected.put(ownPublic, "ok");

    JsonNode report = f.probe(NOBODY, NOGROUP, List.of(Map.of("id", 1, "op", "open", "paths", paths)));
    Map<String, String> actual = new LinkedHashMap<>();
    for (JsonNode file : report.at("/replies/0/reply/files")) {
      actual.put(file.get("path").asText(), file.get("ok").asBoolean() ? "ok" : file.get("error").asText());
    }
    assertEquals(expected, actual);
  }
}
