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
   * Decodes one request.
   *
   * @param maxPaths the most paths an open request may carry (at most {@link
   *     ProtocolLimits#MAX_PATHS_PER_REQUEST})
   */
  public static Request decode(Frame frame, int maxPaths) throws BadRequestException {
    RequestId id = RequestId.NONE;
    String op = null;
    List<String> paths = null;
    String encodingProblem = Utf8.problem(frame, "request");
    if (encodingProblem != null) {
      throw new BadRequestException(id, encodingProblem);
    }
    try (JsonParser p = Json.REQUESTS.createParser(frame.array(), frame.offset(), frame.length())) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new BadRequestException(id, "request must be a JSON object");
      }
      JsonToken t;
      int seen = 0; // a bit per known field: a field twice must not mean either of its values
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        int bit = switch (field) {
          case "id" -> 1;
          case "op" -> 2;
          case "paths" -> 4;
          default -> 0;
        };
        if ((seen & bit) != 0) {
          throw new BadRequestException(id, "malformed JSON: Duplicate field '" + field + "'");
        }
        seen |= bit;
        JsonToken value = p.nextToken();
        switch (field) {
          case "id":
            id = readId(p, value);
            break;
          case "op":
            if (value != JsonToken.VALUE_STRING) {
              throw new BadRequestException(id, "\"op\" must be a string");
            }
            op = p.getText();
            break;
          case "paths":
            paths = readPaths(p, value, id, maxPaths);
            break;
          default:
            throw new BadRequestException(id, "unknown field " + quote(field));
        }
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
    if (op == null) {
      throw new BadRequestException(id, "missing \"op\"");
    }
    switch (op) {
      case "open":
        if (paths == null) {
          throw new BadRequestException(id, "\"open\" needs \"paths\"");
        }
        if (paths.isEmpty()) {
          throw new BadRequestException(id, "\"paths\" must name at least one path");
        }
        return new Request.Open(id, paths);
      case "ping":
        if (paths != null) {
          throw new BadRequestException(id, "\"ping\" takes no \"paths\"");
        }
        return new Request.Ping(id);
      default:
        throw new BadRequestException(id, "unknown op " + quote(op) + " (expected \"open\" or \"ping\")");
    }
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

  private static List<String> readPaths(JsonParser p, JsonToken value, RequestId id, int maxPaths)
      throws IOException, BadRequestException {
    if (value != JsonToken.START_ARRAY) {
      throw new BadRequestException(id, "\"paths\" must be an array of strings");
    }
    List<String> paths = new ArrayList<>();
    JsonToken t;
    while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
      if (t != JsonToken.VALUE_STRING) {
        throw new BadRequestException(id, "\"paths\" must be an array of strings");
      }
      if (paths.size() == maxPaths) {
        throw new BadRequestException(id, "too many paths: at most " + maxPaths + " per request");
      }
      paths.add(p.getText());
    }
    return paths;
  }

  /** Encodes a request as a complete frame, header included. */
  public static byte[] encode(Request request) {
    FrameBuffer out = new FrameBuffer(256);
    try (JsonGenerator g = Json.FACTORY.createGenerator(out)) {
      g.writeStartObject();
      request.id().write(g, "id");
      if (request instanceof Request.Open) {
        g.writeStringField("op", "open");
        g.writeArrayFieldStart("paths");
        for (String path : ((Request.Open) request).paths()) {
          g.writeString(path);
        }
        g.writeEndArray();
      } else {
        g.writeStringField("op", "ping");
      }
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException("encoding to memory cannot fail", e);
    }
    return out.finish();
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
