package dev.fdbroker.broker.replay;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import dev.fdbroker.protocol.PathSyntax;
import java.io.IOException;
import java.util.Arrays;

/**
 * Reads one audit line (docs/observability.md) with Jackson's streaming parser: the broker's jar
 * has no jackson-databind, and a log of gigabytes is read faster without a tree per line.
 *
 * <p>A line is a decision when its op is "open", "stat" or "list" and its decision "allow" or "deny". Other lines
 * (op or decision "invalid": a request or path refused before the policy was asked) are no
 * decision and are skipped, but must still be well-formed audit lines: a log that is not what the
 * broker writes is refused rather than half replayed. Fields this version does not know are
 * ignored, so a newer broker's log still replays.
 */
final class AuditLineParser {
  /** uids, gids and pids are 32-bit unsigned to the kernel. */
  private static final long MAX_ID = 0xFFFF_FFFFL;

  /** Two values for one field must not mean either; nesting is capped, lines are by their reader. */
  private static final JsonFactory JSON = JsonFactory.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
      .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(16).build())
      .build();

  private static final long[] NO_GROUPS = new long[0];

  /** What is wrong with a line, without its file and number. */
  static final class Malformed extends Exception {
    private static final long serialVersionUID = 1L;

    Malformed(String problem) {
      super(problem, null, false, false);
    }
  }

  private AuditLineParser() {}

  /** The decision {@code line[0..length)} records, or null if it records none. */
  static LoggedDecision parse(byte[] line, int length) throws Malformed {
    Fields f = new Fields();
    try (JsonParser p = JSON.createParser(line, 0, length)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new Malformed("not a JSON object");
      }
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        p.nextToken();
        f.read(name, p);
      }
      if (t != JsonToken.END_OBJECT) {
        throw new Malformed("not a JSON object");
      }
      if (p.nextToken() != null) {
        throw new Malformed("more after the JSON object");
      }
    } catch (JsonProcessingException e) {
      throw new Malformed("not valid JSON: " + e.getOriginalMessage().replace('\n', ' '));
    } catch (IOException e) {
      throw new Malformed("not valid JSON: " + e.getMessage()); // a byte array needs no I/O
    }
    return f.decision();
  }

  /** The fields of one line that replaying needs; absent ones stay unset. */
  private static final class Fields {
    private long uid = -1;
    private long gid = -1;
    private long pid = -1;
    private long[] groups;
    private String user;
    private boolean hasUser;
    private String unit;
    private boolean hasUnit;
    private String op;
    private boolean hasOp;
    private String path;
    private boolean hasPath;
    private String decision;
    private boolean hasDecision;
    private String rule;
    private boolean hasRule;

    void read(String name, JsonParser p) throws IOException, Malformed {
      switch (name) {
        case "uid" -> uid = id(p, name);
        case "gid" -> gid = id(p, name);
        case "pid" -> pid = id(p, name);
        case "groups" -> groups = groups(p);
        case "user" -> {
          user = stringOrNull(p, name);
          hasUser = true;
        }
        case "unit" -> {
          unit = stringOrNull(p, name);
          hasUnit = true;
        }
        case "op" -> {
          op = stringOrNull(p, name);
          hasOp = true;
        }
        case "path" -> {
          path = stringOrNull(p, name);
          hasPath = true;
        }
        case "decision" -> {
          decision = stringOrNull(p, name);
          hasDecision = true;
        }
        case "rule" -> {
          rule = stringOrNull(p, name);
          hasRule = true;
        }
        default -> p.skipChildren(); // time, conn, exe, error, latency_us, and whatever comes later
      }
    }

    LoggedDecision decision() throws Malformed {
      require(hasOp, "op");
      if (op == null) {
        throw new Malformed("\"op\" must be a string, not null");
      }
      boolean toSee = op.equals("stat") || op.equals("list");
      if (!op.equals("open") && !toSee) {
        return null;
      }
      require(hasDecision, "decision");
      boolean allowed;
      if ("allow".equals(decision)) {
        allowed = true;
      } else if ("deny".equals(decision)) {
        allowed = false;
      } else if ("invalid".equals(decision)) {
        return null;
      } else {
        throw new Malformed("\"decision\" must be \"allow\", \"deny\" or \"invalid\", not "
            + (decision == null ? "null" : ReplayText.quoted(decision)));
      }
      require(uid >= 0, "uid");
      require(gid >= 0, "gid");
      require(pid >= 0, "pid");
      require(hasPath, "path");
      require(hasRule, "rule");
      if (path == null) {
        throw new Malformed("\"path\" must be a string, not null");
      }
      // The broker decides only on canonical paths (others are "invalid"), and the policy's
      // matching relies on it.
      String problem = PathSyntax.problem(path);
      if (problem != null) {
        throw new Malformed("\"path\" " + ReplayText.quoted(path) + " was never decided on by a broker: " + problem);
      }
      return new LoggedDecision(uid, gid, pid, groups == null ? NO_GROUPS : groups, user, unit,
          hasUser && hasUnit && groups != null, path, toSee, allowed, rule);
    }

    private static void require(boolean present, String field) throws Malformed {
      if (!present) {
        throw new Malformed("missing \"" + field + "\"");
      }
    }
  }

  private static long id(JsonParser p, String field) throws IOException, Malformed {
    if (p.currentToken() == JsonToken.VALUE_NUMBER_INT && p.getNumberType() != JsonParser.NumberType.BIG_INTEGER) {
      long v = p.getLongValue();
      if (v >= 0 && v <= MAX_ID) {
        return v;
      }
    }
    throw new Malformed("\"" + field + "\" must be an integer from 0 to " + MAX_ID + ", not " + describe(p));
  }

  private static long[] groups(JsonParser p) throws IOException, Malformed {
    if (p.currentToken() != JsonToken.START_ARRAY) {
      throw new Malformed("\"groups\" must be an array of gids, not " + describe(p));
    }
    long[] gids = new long[8];
    int n = 0;
    JsonToken t;
    while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
      if (t == null) {
        throw new Malformed("not valid JSON: the line ends inside \"groups\"");
      }
      long gid = id(p, "groups[" + n + "]");
      if (n == gids.length) {
        gids = Arrays.copyOf(gids, n * 2);
      }
      gids[n++] = gid;
    }
    return Arrays.copyOf(gids, n);
  }

  private static String stringOrNull(JsonParser p, String field) throws IOException, Malformed {
    return switch (p.currentToken()) {
      case VALUE_STRING -> p.getText();
      case VALUE_NULL -> null;
      default -> throw new Malformed("\"" + field + "\" must be a string or null, not " + describe(p));
    };
  }

  /** The offending value, briefly: its text if a scalar, else its kind. */
  private static String describe(JsonParser p) throws IOException {
    return switch (p.currentToken()) {
      case START_OBJECT -> "an object";
      case START_ARRAY -> "an array";
      case VALUE_STRING -> "a string";
      case VALUE_NULL -> "null";
      default -> {
        String text = p.getText();
        yield text.length() > 40 ? text.substring(0, 40) + "..." : text;
      }
    };
  }
}
