package dev.fdbroker.protocol;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * What a request said, read whole from a parser before it is judged: the verdict must not depend
 * on the order of its fields (an unknown op is the problem, whatever "paths" holds), and the id is
 * echoed wherever it stands.
 *
 * <p>Reads one JSON object and stops after its end; what may follow it in the frame is the
 * caller's to check ({@link RequestCodec}, {@link RequestDecoder}). Reusable: {@link #read} starts
 * afresh, so that a decoder kept per thread allocates no reader of its own per request.
 */
final class RequestFields {
  private static final int ID = 1;
  private static final int OP = 2;
  private static final int PATHS = 4;
  private static final int PATH = 8;
  private static final int CURSOR = 16;
  /** {@link Request#OPS}, as an array: walking the list would make an iterator per request. */
  private static final String[] OPS = Request.OPS.toArray(new String[0]);

  private RequestId id = RequestId.NONE;
  private String op;
  /** Why "op" could not be taken, or null. */
  private String opProblem;
  /** A bit per field seen: a field twice must not mean either of its values. */
  private int seen;
  /** The paths, if {@link #PATHS} was seen; kept between requests (only cleared), and copied by the request. */
  private final List<String> paths = new ArrayList<>();
  private String path;
  private String cursor;
  /** Why "paths", "path" or "cursor" could not be taken (the first such), or null. */
  private String problem;
  /** The first field that is none of the protocol's, or null. */
  private String unknownField;

  /**
   * The request's id if it was read (so far), else {@link RequestId#NONE}: what a refusal echoes,
   * even one thrown while reading.
   */
  RequestId id() {
    return id;
  }

  /**
   * Reads the request's fields: one JSON object, up to and including its end. Only what stops the
   * reading is thrown here: broken JSON, a duplicate field, an id that cannot be echoed. The value
   * of a field that is not understood is skipped (within the parser's nesting and length bounds)
   * and its problem kept for the {@link #verdict}.
   */
  void read(JsonParser p, int maxPaths) throws IOException, BadRequestException {
    id = RequestId.NONE;
    op = null;
    opProblem = null;
    seen = 0;
    paths.clear();
    path = null;
    cursor = null;
    problem = null;
    unknownField = null;
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
            op = knownOp(p);
          } else {
            p.skipChildren();
            opProblem = "\"op\" must be a string";
          }
          break;
        case "paths":
          fieldProblem = readPaths(p, value, maxPaths);
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
  }

  /** The request that was read, or why it is refused. */
  Request verdict() throws BadRequestException {
    if (opProblem != null) {
      throw new BadRequestException(id, opProblem);
    }
    if (op == null) {
      throw new BadRequestException(id, "missing \"op\"");
    }
    int takes = switch (op) {
      case "open", "stat" -> PATHS;
      case "list" -> PATH | CURSOR;
      case "ping" -> 0;
      default -> throw new BadRequestException(id, "unknown op " + RequestCodec.quote(op)
          + " (expected \"open\", \"stat\", \"list\" or \"ping\")");
    };
    if (unknownField != null) {
      throw new BadRequestException(id, "unknown field " + RequestCodec.quote(unknownField));
    }
    int foreign = seen & (PATHS | PATH | CURSOR) & ~takes;
    if (foreign != 0) {
      String field = (foreign & PATHS) != 0 ? "paths" : (foreign & PATH) != 0 ? "path" : "cursor";
      throw new BadRequestException(id, RequestCodec.quote(op) + " takes no " + RequestCodec.quote(field)
          + (op.equals("list") ? " (it lists one directory: \"path\")" : ""));
    }
    if (problem != null) {
      throw new BadRequestException(id, problem);
    }
    switch (op) {
      case "ping":
        return new Request.Ping(id);
      case "list":
        if (path == null) {
          throw new BadRequestException(id, "\"list\" needs \"path\"");
        }
        return new Request.List(id, path, cursor);
      default:
        if ((seen & PATHS) == 0) {
          throw new BadRequestException(id, RequestCodec.quote(op) + " needs \"paths\"");
        }
        if (paths.isEmpty()) {
          throw new BadRequestException(id, "\"paths\" must name at least one path");
        }
        // The request keeps a list of its own: this one is cleared for the next read. One path (the
        // usual request) is made a list directly: List.copyOf would copy it into an array first.
        List<String> taken = paths.size() == 1 ? List.of(paths.get(0)) : List.copyOf(paths);
        return op.equals("open") ? new Request.Open(id, taken) : new Request.Stat(id, taken);
    }
  }

  /** The op as one of the protocol's own strings when it is one (no string made per request), else as sent. */
  private static String knownOp(JsonParser p) throws IOException {
    char[] text = p.getTextCharacters();
    int offset = p.getTextOffset();
    int length = p.getTextLength();
    for (String known : OPS) {
      if (known.length() == length && regionEquals(known, text, offset)) {
        return known;
      }
    }
    return p.getText();
  }

  private static boolean regionEquals(String s, char[] text, int offset) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) != text[offset + i]) {
        return false;
      }
    }
    return true;
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
        String number = p.getText();
        // Jackson's own bound counts digits only; this one counts the whole text echoed back.
        if (number.length() > ProtocolLimits.MAX_NUMBER_CHARS) {
          throw new BadRequestException(RequestId.NONE,
              "\"id\" is longer than " + ProtocolLimits.MAX_NUMBER_CHARS + " characters");
        }
        return RequestId.ofParsedNumber(number);
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
   * Reads the value of "paths" into {@link #paths}: what is wrong with it, or null. The rest of a
   * value that is wrong is skipped, so the reading goes on.
   */
  private String readPaths(JsonParser p, JsonToken value, int maxPaths) throws IOException {
    String notStrings = "\"paths\" must be an array of strings";
    if (value != JsonToken.START_ARRAY) {
      p.skipChildren();
      return notStrings;
    }
    String found = null;
    JsonToken t;
    // Jackson reports an array the input leaves open; null is checked all the same, as the loop
    // would not end on it.
    while ((t = p.nextToken()) != JsonToken.END_ARRAY && t != null) {
      if (t != JsonToken.VALUE_STRING) {
        p.skipChildren();
        found = found != null ? found : notStrings;
      } else if (paths.size() == maxPaths) {
        found = found != null ? found : "too many paths: at most " + maxPaths + " per request";
      } else {
        paths.add(p.getText());
      }
    }
    return found;
  }
}
