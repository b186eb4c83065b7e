package dev.fdbroker.protocol;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.io.UncheckedIOException;
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
   * Decodes one request with a parser of its own: the reference decoding, which {@link
   * RequestDecoder} (a parser kept between frames) falls back on for anything but a clean request.
   *
   * @param maxPaths the most paths an open or stat request may carry (at most {@link
   *     ProtocolLimits#MAX_PATHS_PER_REQUEST})
   */
  public static Request decode(Frame frame, int maxPaths) throws BadRequestException {
    String encodingProblem = Utf8.problem(frame, "request");
    if (encodingProblem != null) {
      throw new BadRequestException(RequestId.NONE, encodingProblem);
    }
    RequestFields f = new RequestFields();
    try (JsonParser p = Json.REQUESTS.createParser(frame.array(), frame.offset(), frame.length())) {
      f.read(p, maxPaths);
      if (p.nextToken() != null) {
        throw new BadRequestException(f.id(), "trailing data after the request object");
      }
    } catch (JsonProcessingException e) {
      throw new BadRequestException(f.id(), "malformed JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      // Parsing a byte array does no I/O; anything else is a parse failure too.
      throw new BadRequestException(f.id(), "malformed JSON: " + e.getMessage());
    }
    return f.verdict();
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
