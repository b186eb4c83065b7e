package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fdbroker.client.BrokeredFile;
import dev.fdbroker.client.FdBrokerClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A policy file swapped for something hostile or broken, then SIGHUP: every one is rejected with a
 * clear message, none hangs the reload, and the policy in force keeps serving.
 */
class HostileConfigIT {

  @Test
  void everyBrokenPolicyIsRejectedOnReloadAndTheOldOneKeepsServing() throws Exception {
    Path dir = ItSupport.worldReadableTempDir("fdbroker-config-");
    try {
      Path file = Files.writeString(dir.resolve("a.txt"), "a\n");
      Path policy = dir.resolve("policy.yaml");
      String good = "rules:\n  - name: t\n    users: [" + ItSupport.myUid() + "]\n    allow: [\"" + file + "\"]\n";
      Files.writeString(policy, good);

      Map<String, String> cases = new LinkedHashMap<>(); // what is written -> what the rejection must say
      cases.put("", "the file is empty");
      cases.put("# only a comment\n", "the file is empty");
      cases.put("rules: " + "[".repeat(200) + "]".repeat(200) + "\n", "not valid YAML");
      cases.put("rules: []\nrules: []\n", "duplicate key");
      cases.put("rules:\n  - {name: x, users: [0], allow: [/a]}\n  - {name: x, users: [0], allow: [/b]}\n", "duplicate rule name");
      cases.put("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
          + "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nrules: *c\n", "YAML anchors");
      cases.put("rules: !!python/object:os.system [\"true\"]\n", "YAML tags");
      cases.put("rules: []\n---\nrules: []\n", "more than one document");
      cases.put("rules: []\nadmin: true\n", "unknown key");
      cases.put("rules: [{name: x, users: [nobody], allow: [/etc/**], deny: [\"/etc/a**\"]}]\n", "must be a whole path component");
      cases.put("\u0000\u0001\u0002 binary", "not valid YAML");

      try (BrokerProcess broker = BrokerProcess.start(policy, dir.resolve("b.sock"));
          FdBrokerClient client = FdBrokerClient.connect(dir.resolve("b.sock"))) {
        int rejected = 0;
        for (Map.Entry<String, String> c : cases.entrySet()) {
          Files.writeString(policy, c.getKey());
          rejected = reloadAndExpectRejection(broker, rejected, c.getValue());
          assertEquals("a\n", read(client, file), "the old policy still serves after: " + c.getValue());
        }
        // Bytes that are not UTF-8.
        Files.write(policy, new byte[] {'r', 'u', 'l', 'e', 's', ':', ' ', (byte) 0xff, (byte) 0xfe, '\n'});
        rejected = reloadAndExpectRejection(broker, rejected, "not valid YAML");
        // A file far too large.
        Files.writeString(policy, "rules: []\n" + "#".repeat(16 * 1024 * 1024 + 1));
        rejected = reloadAndExpectRejection(broker, rejected, "larger than");
        // Not a file at all: a directory, a FIFO nobody writes (which would block a reader forever),
        // a link to an endless device.
        Files.delete(policy);
        Files.createDirectory(policy);
        rejected = reloadAndExpectRejection(broker, rejected, "not a regular file");
        Files.delete(policy);
        ItSupport.mkfifo(policy);
        rejected = reloadAndExpectRejection(broker, rejected, "not a regular file");
        Files.delete(policy);
        Files.createSymbolicLink(policy, Path.of("/dev/zero"));
        rejected = reloadAndExpectRejection(broker, rejected, "not a regular file");
        Files.delete(policy);
        // Gone altogether.
        rejected = reloadAndExpectRejection(broker, rejected, "no such file");
        assertEquals("a\n", read(client, file));

        // And a good one is taken again.
        Files.writeString(policy, good.replace("a.txt", "b.txt"));
        ItSupport.run(List.of("kill", "-HUP", Long.toString(broker.pid())), Duration.ofSeconds(10)).assertExit(0);
        awaitLog(broker, "policy reloaded", 1);
        assertTrue(broker.isAlive());
        HostileSummary.add("hostile policy reloads rejected", rejected);
        System.out.println("hostile configs: " + rejected + " broken policies rejected on reload; the old one served throughout");
      }
    } finally {
      ItSupport.deleteTree(dir);
    }
  }

  /**
   * Drop-ins as a worker's package ships them: a reload reads the directory again, a new one adds
   * its rules, and a broken one (or a rule name taken in another file) is rejected whole, named by
   * its own file and line, while everything in force keeps serving.
   */
  @Test
  void aReloadReadsTheDropInsAgainAndABrokenOneIsRejectedWhole() throws Exception {
    Path dir = ItSupport.worldReadableTempDir("fdbroker-dropins-");
    try {
      Path a = Files.writeString(dir.resolve("a.txt"), "a\n");
      Path b = Files.writeString(dir.resolve("b.txt"), "b\n");
      Path dropIns = Files.createDirectory(dir.resolve("policy.d"));
      String me = Integer.toString(ItSupport.myUid());
      Files.writeString(dropIns.resolve("10-a.yaml"), "rules: [{name: a, users: [" + me + "], allow: [\"" + a + "\"]}]\n");
      Path policy = Files.writeString(dir.resolve("policy.yaml"), "include: policy.d\nrules: []\n");
      try (BrokerProcess broker = BrokerProcess.start(policy, dir.resolve("b.sock"));
          FdBrokerClient client = FdBrokerClient.connect(dir.resolve("b.sock"))) {
        assertEquals("a\n", read(client, a));
        assertThrows(java.nio.file.AccessDeniedException.class, () -> read(client, b));

        Files.writeString(dropIns.resolve("20-b.yaml"), "rules: [{name: b, users: [" + me + "], allow: [\"" + b + "\"]}]\n");
        ItSupport.run(List.of("kill", "-HUP", Long.toString(broker.pid())), Duration.ofSeconds(10)).assertExit(0);
        awaitLog(broker, "policy reloaded", 1);
        assertEquals("b\n", read(client, b), "a new drop-in's rules, from the reload on");

        Path broken = Files.writeString(dropIns.resolve("30-broken.yaml"), "rules:\n  - name: c\n    users: [no-such-user-z]\n"
            + "    allow: [/c]\n");
        int rejected = reloadAndExpectRejection(broker, 0, broken + ":3:13: rules[0].users[0]: unknown user");
        Files.delete(broken);
        Path taken = Files.writeString(dropIns.resolve("40-taken.yaml"), "rules:\n  - name: a\n    users: [0]\n"
            + "    allow: [/c]\n");
        reloadAndExpectRejection(broker, rejected, taken + ":2:11: rules[0].name: duplicate rule name \"a\" (first at "
            + dropIns.resolve("10-a.yaml") + ":1:");
        assertEquals("a\n", read(client, a), "the policy in force keeps serving");
        assertEquals("b\n", read(client, b));
      }
    } finally {
      ItSupport.deleteTree(dir);
    }
  }

  private static int reloadAndExpectRejection(BrokerProcess broker, int before, String why) throws Exception {
    ItSupport.run(List.of("kill", "-HUP", Long.toString(broker.pid())), Duration.ofSeconds(10)).assertExit(0);
    awaitLog(broker, "policy reload rejected", before + 1);
    String last = broker.log().lines().filter(l -> l.contains("policy reload rejected")).reduce((a, b) -> b).orElse("");
    if (why != null) {
      assertTrue(last.contains(why), "rejected for the wrong reason (expected \"" + why + "\"): " + last);
    }
    return before + 1;
  }

  private static void awaitLog(BrokerProcess broker, String text, int times) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (broker.log().lines().filter(l -> l.contains(text)).count() < times) {
      assertTrue(System.nanoTime() < deadline, "no \"" + text + "\" (x" + times + ") in the log; a reload hung?\n" + broker.log());
      Thread.sleep(20);
    }
  }

  private static String read(FdBrokerClient client, Path file) throws Exception {
    try (BrokeredFile f = client.open(file.toString())) {
      return new String(f.readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
