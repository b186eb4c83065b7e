package dev.fdbroker.protocol;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Request frames: decoding (broker side, strict, for hostile input) and encoding (client side).
 *
 * <p>Decoding validates the shape of the message only. Each path's syntax is judged per path by
 * the broker ({@link PathSyntax}), so one bad path in a batch does not sink the others.
 */
public final class RequestCodec {
  private RequestCodec() {}

  /**
   * What a request said, read whole before it is judged: the verdict must not depend on the order
   * of its fields (an unknown op is the problem, whatever "paths" holds), and the id is echoed
   * wherever it stands.
   *
   * @param opProblem why "op" could not be taken, or null
   * @param present a bit per known field that the request has ({@link #PATHS}, {@link #PATH}, {@link #CURSOR})
   * @param paths the paths, or null if the request has no "paths"
   * @param problem why "paths", "path" or "cursor" could not be taken (the first such), or null
   * @param unknownField the first field that is none of the protocol's, or null
   */
  private record Fields(RequestId id, String op, String opProblem, int present, List<String> paths, String path,
      String cursor, String problem, String unknownField) {}

  private static final int ID = 1;
  private static final int OP = 2;
  private static final int PATHS = 4;
  private static final int PATH = 8;
  private static final int CURSOR = 16;

  /**
   * Decodes one request.
   *
   * @param maxPaths the most paths an open or stat request may carry (at most {@link
   *     ProtocolLimits#MAX_PATHS_PER_REQUEST})
   */
  public static Request decode(Frame frame, int maxPaths) throws BadRequestException {
    String encodingProblem = Utf8.problem(frame, "request");
    if (encodingProblem != null) {
      throw new BadRequestException(RequestId.NONE, encodingProblem);
    }
    Fields f = read(frame, maxPaths);
    RequestId id = f.id();
    if (f.opProblem() != null) {
      throw new BadRequestException(id, f.opProblem());
    }
    if (f.op() == null) {
      throw new BadRequestException(id, "missing \"op\"");
    }
    int takes = switch (f.op()) {
      case "open", "stat" -> PATHS;
      case "list" -> PATH | CURSOR;
      case "ping" -> 0;
      default -> throw new BadRequestException(id, "unknown op " + quote(f.op())
          + " (expected \"open\", \"stat\", \"list\" or \"ping\")");
    };
    if (f.unknownField() != null) {
      throw new BadRequestException(id, "unknown field " + quote(f.unknownField()));
    }
    int foreign = f.present() & ~takes;
    if (foreign != 0) {
      String field = (foreign & PATHS) != 0 ? "paths" : (foreign & PATH) != 0 ? "path" : "cursor";
      throw new BadRequestException(id, quote(f.op()) + " takes no " + quote(field)
          + (f.op().equals("list") ? " (it lists one directory: \"path\")" : ""));
    }
    if (f.problem() != null) {
      throw new BadRequestException(id, f.problem());
    }
    switch (f.op()) {
      case "ping":
        return new Request.Ping(id);
      case "list":
        if (f.path() == null) {
          throw new BadRequestException(id, "\"list\" needs \"path\"");
        }
        return new Request.List(id, f.path(), f.cursor());
      default:
        if (f.paths() == null) {
          throw new BadRequestException(id, quote(f.op()) + " needs \"paths\"");
        }
        if (f.paths().isEmpty()) {
          throw new BadRequestException(id, "\"paths\" must name at least one path");
        }
        return f.op().equals("open") ? new Request.Open(id, f.paths()) : new Request.Stat(id, f.paths());
    }
  }

  /**
   * Reads the request's fields. Only what stops the reading is thrown here: broken JSON, a
   * duplicate field, an id that cannot be echoed. The value of a field that is not understood is
   * skipped (within the parser's nesting and length bounds) and its problem kept for the verdict.
   */
  private static Fields read(Frame frame, int maxPaths) throws BadRequestException {
    RequestId id = RequestId.NONE;
    String op = null;
    String opProblem = null;
    List<String> paths = null;
    String path = null;
    String cursor = null;
    String problem = null;
    String unknownField = null;
    int seen = 0; // a bit per known field: a field twice must not mean either of its values
    try (JsonParser p = Json.REQUESTS.createParser(frame.array(), frame.offset(), frame.length())) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new BadRequestException(id, "request must be a JSON object");
      }
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        int bit = switch (field) {
          case "id" -> ID;
          case "op" -> OP;
          case "paths" -> PATHS;
          case "path" -> PATH;
          case "cursor" -> CURSOR;
          default -> 0;
        };
        if ((seen & bit) != 0) {
          throw new BadRequestException(id, "malformed JSON: Duplicate field '" + field + "'");
        }
        seen |= bit;
        JsonToken value = p.nextToken();
        String fieldProblem = null;
        switch (field) {
          case "id":
            id = readId(p, value);
            break;
          case "op":
            if (value == JsonToken.VALUE_STRING) {
              op = p.getText();
            } else {
              p.skipChildren();
              opProblem = "\"op\" must be a string";
            }
            break;
          case "paths":
            paths = new ArrayList<>();
            fieldProblem = readPaths(p, value, paths, maxPaths);
            break;
          case "path":
            if (value == JsonToken.VALUE_STRING) {
              path = p.getText();
            } else {
              p.skipChildren();
              fieldProblem = "\"path\" must be a string";
            }
            break;
          case "cursor":
            if (value == JsonToken.VALUE_STRING) {
              cursor = p.getText();
              fieldProblem = cursorProblem(cursor);
            } else if (value != JsonToken.VALUE_NULL) {
              p.skipChildren();
              fieldProblem = "\"cursor\" must be a string or null";
            }
            break;
          default:
            p.skipChildren();
            if (unknownField == null) {
              unknownField = field;
            }
        }
        problem = problem != null ? problem : fieldProblem;
      }
      if (t != JsonToken.END_OBJECT) {
        throw new BadRequestException(id, "request must be a JSON object");
      }
      if (p.nextToken() != null) {
        throw new BadRequestException(id, "trailing data after the request object");
      }
    } catch (JsonProcessingException e) {
      throw new BadRequestException(id, "malformed JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      // Parsing a byte array does no I/O; anything else is a parse failure too.
      throw new BadRequestException(id, "malformed JSON: " + e.getMessage());
    }
    return new Fields(id, op, opProblem, seen & (PATHS | PATH | CURSOR), paths, path, cursor, problem, unknownField);
  }

  /** A cursor is the broker's own text, given back: short printable ASCII, or it is not one. */
  private static String cursorProblem(String cursor) {
    if (cursor.isEmpty() || cursor.length() > ProtocolLimits.MAX_CURSOR_CHARS) {
      return "\"cursor\" must be 1 to " + ProtocolLimits.MAX_CURSOR_CHARS + " characters, as the broker gave it";
    }
    for (int i = 0; i < cursor.length(); i++) {
      char c = cursor.charAt(i);
      if (c < 0x21 || c > 0x7e) {
        return "\"cursor\" is not one the broker gave";
      }
    }
    return null;
  }

  private static RequestId readId(JsonParser p, JsonToken value) throws IOException, BadRequestException {
    switch (value) {
      case VALUE_STRING:
        String text = p.getText();
        if (text.length() > ProtocolLimits.MAX_ID_CHARS) {
          throw new BadRequestException(RequestId.NONE,
              "\"id\" is longer than " + ProtocolLimits.MAX_ID_CHARS + " characters");
        }
        return RequestId.ofString(text);
      case VALUE_NUMBER_INT:
      case VALUE_NUMBER_FLOAT:
        // Jackson's own bound counts digits only; this one counts the whole text echoed back.
        if (p.getText().length() > ProtocolLimits.MAX_NUMBER_CHARS) {
          throw new BadRequestException(RequestId.NONE,
              "\"id\" is longer than " + ProtocolLimits.MAX_NUMBER_CHARS + " characters");
        }
        return RequestId.ofParsedNumber(p.getText());
      case VALUE_TRUE:
        return RequestId.ofBoolean(true);
      case VALUE_FALSE:
        return RequestId.ofBoolean(false);
      case VALUE_NULL:
        return RequestId.NONE;
      default:
        throw new BadRequestException(RequestId.NONE, "\"id\" must be a JSON scalar");
    }
  }

  /**
   * Reads the value of "paths" into {@code into}: what is wrong with it, or null. The rest of a
   * value that is wrong is skipped, so the reading goes on.
   */
  private static String readPaths(JsonParser p, JsonToken value, List<String> into, int maxPaths) throws IOException {
    String notStrings = "\"paths\" must be an array of strings";
    if (value != JsonToken.START_ARRAY) {
      p.skipChildren();
      return notStrings;
    }
    String problem = null;
    JsonToken t;
    // Jackson reports an array the input leaves open; null is checked all the same, as the loop
    // would not end on it.
    while ((t = p.nextToken()) != JsonToken.END_ARRAY && t != null) {
      if (t != JsonToken.VALUE_STRING) {
        p.skipChildren();
        problem = problem != null ? problem : notStrings;
      } else if (into.size() == maxPaths) {
        problem = problem != null ? problem : "too many paths: at most " + maxPaths + " per request";
      } else {
        into.add(p.getText());
      }
    }
    return problem;
  }

  /** Encodes a request as a complete frame, header included. */
  public static byte[] encode(Request request) {
    FrameBuffer out = new FrameBuffer(256);
    try (JsonGenerator g = Json.FACTORY.createGenerator(out)) {
      g.writeStartObject();
      request.id().write(g, "id");
      g.writeStringField("op", request.op());
      if (request instanceof Request.Open) {
        writePaths(g, ((Request.Open) request).paths());
      } else if (request instanceof Request.Stat) {
        writePaths(g, ((Request.Stat) request).paths());
      } else if (request instanceof Request.List) {
        Request.List list = (Request.List) request;
        g.writeStringField("path", list.path());
        if (list.cursor() != null) {
          g.writeStringField("cursor", list.cursor());
        }
      }
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException("encoding to memory cannot fail", e);
    }
    return out.finish();
  }

  private static void writePaths(JsonGenerator g, List<String> paths) throws IOException {
    g.writeArrayFieldStart("paths");
    for (String path : paths) {
      g.writeString(path);
    }
    g.writeEndArray();
  }

  static String quote(String s) {
    String shown = s.length() > 64 ? s.substring(0, 64) + "..." : s;
    StringBuilder b = new StringBuilder(shown.length() + 2).append('"');
    for (int i = 0; i < shown.length(); i++) {
      char c = shown.charAt(i);
      b.append(c < 0x20 || c == 0x7f ? '?' : c);
    }
    return b.append('"').toString();
  }
}
