package dev.fdbroker.protocol;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** Reply frames: encoding (broker side) and decoding (client side). */
public final class ReplyCodec {
  private ReplyCodec() {}

  /**
   * Encodes a reply as a complete frame, header included. The result may exceed the frame limit.
   *
   * <p>The broker encodes a reply for every request, so this assembles the bytes directly
   * ({@link JsonBytes}): setting up a generator cost more than the rest of the encoding.
   * ReplyCodecTest checks the output against Jackson's generator, byte for byte.
   */
  public static byte[] encode(Reply reply) {
    JsonBytes out = JsonBytes.start(ProtocolLimits.HEADER_BYTES);
    out.raw(ID);
    id(out, reply.id());
    if (reply instanceof Reply.Opened opened) {
      out.raw(OK_FILES);
      List<FileResult> files = opened.files();
      for (int i = 0; i < files.size(); i++) {
        FileResult file = files.get(i);
        out.raw(i == 0 ? FIRST_PATH : NEXT_PATH);
        out.string(file.path());
        if (file instanceof FileResult.Granted granted) {
          out.raw(GRANTED_FD);
          out.number(granted.fd());
          out.raw(SIZE);
          out.number(granted.size());
          if (granted.mtimeNs() != FileResult.Granted.UNKNOWN) {
            out.raw(MTIME_NS);
            out.number(granted.mtimeNs());
          }
          if (granted.mode() != FileResult.Granted.UNKNOWN) {
            out.raw(MODE);
            out.number(granted.mode());
          }
        } else {
          FileResult.Refused refused = (FileResult.Refused) file;
          out.raw(REFUSED_ERROR);
          out.string(refused.error().wireName());
          out.raw(MESSAGE);
          out.string(refused.message());
        }
        out.put((byte) '}');
      }
      out.raw(END_FILES);
    } else if (reply instanceof Reply.Pong pong) {
      out.raw(OK_VERSION);
      out.string(pong.brokerVersion());
      out.raw(PROTOCOL);
      out.number(pong.protocolVersion());
      out.raw(MAX_PATHS);
      out.number(pong.maxPaths());
      out.put((byte) '}');
    } else {
      Reply.Failed failed = (Reply.Failed) reply;
      out.raw(FAILED_ERROR);
      out.string(failed.error().wireName());
      out.raw(MESSAGE);
      out.string(failed.message());
      out.put((byte) '}');
    }
    byte[] frame = out.toBytes();
    FrameBuffer.putHeader(frame, frame.length - ProtocolLimits.HEADER_BYTES);
    return frame;
  }

  private static final byte[] ID = JsonBytes.ascii("{\"id\":");
  private static final byte[] OK_FILES = JsonBytes.ascii(",\"ok\":true,\"files\":[");
  private static final byte[] FIRST_PATH = JsonBytes.ascii("{\"path\":");
  private static final byte[] NEXT_PATH = JsonBytes.ascii(",{\"path\":");
  private static final byte[] GRANTED_FD = JsonBytes.ascii(",\"ok\":true,\"fd\":");
  private static final byte[] SIZE = JsonBytes.ascii(",\"size\":");
  private static final byte[] MTIME_NS = JsonBytes.ascii(",\"mtime_ns\":");
  private static final byte[] MODE = JsonBytes.ascii(",\"mode\":");
  private static final byte[] REFUSED_ERROR = JsonBytes.ascii(",\"ok\":false,\"error\":");
  private static final byte[] MESSAGE = JsonBytes.ascii(",\"message\":");
  private static final byte[] END_FILES = JsonBytes.ascii("]}");
  private static final byte[] OK_VERSION = JsonBytes.ascii(",\"ok\":true,\"version\":");
  private static final byte[] PROTOCOL = JsonBytes.ascii(",\"protocol\":");
  private static final byte[] MAX_PATHS = JsonBytes.ascii(",\"max_paths\":");
  private static final byte[] FAILED_ERROR = JsonBytes.ascii(",\"ok\":false,\"error\":");
  private static final byte[] TRUE = JsonBytes.ascii("true");
  private static final byte[] FALSE = JsonBytes.ascii("false");
  private static final byte[] NULL = JsonBytes.ascii("null");

  private static void id(JsonBytes out, RequestId id) {
    switch (id.kind()) {
      case STRING -> out.string(id.text());
      case NUMBER -> out.raw(JsonBytes.ascii(id.text())); // the parser's own number text, checked when decoded
      case TRUE -> out.raw(TRUE);
      case FALSE -> out.raw(FALSE);
      default -> out.raw(NULL);
    }
  }

  /**
   * Decodes a reply.
   *
   * @throws MalformedReplyException the frame is not a v1 reply
   */
  public static Reply decode(Frame frame) throws MalformedReplyException {
    String encodingProblem = Utf8.problem(frame, "reply");
    if (encodingProblem != null) {
      throw new MalformedReplyException(encodingProblem);
    }
    try (JsonParser p = Json.FACTORY.createParser(frame.array(), frame.offset(), frame.length())) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new MalformedReplyException("reply is not a JSON object");
      }
      RequestId id = RequestId.NONE;
      Boolean ok = null;
      String error = null;
      String message = null;
      String version = null;
      Integer protocol = null;
      Integer maxPaths = null;
      List<FileResult> files = null;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken value = p.nextToken();
        switch (field) {
          case "id" -> id = readId(p, value);
          case "ok" -> ok = readBoolean(p, value, field);
          case "error" -> error = readString(p, value, field);
          case "message" -> message = readString(p, value, field);
          case "version" -> version = readString(p, value, field);
          case "protocol" -> protocol = readInt(p, value, field);
          case "max_paths" -> maxPaths = readInt(p, value, field);
          case "files" -> files = readFiles(p, value);
          default -> p.skipChildren(); // newer brokers may add fields
        }
      }
      if (ok == null) {
        throw new MalformedReplyException("reply has no \"ok\"");
      }
      if (!ok) {
        return new Reply.Failed(id, code(error), message == null ? "" : message);
      }
      if (files != null) {
        return new Reply.Opened(id, files);
      }
      if (version != null && protocol != null) {
        int limit = maxPaths == null ? ProtocolLimits.MAX_PATHS_PER_REQUEST : maxPaths;
        if (limit < 1 || limit > ProtocolLimits.MAX_PATHS_PER_REQUEST) {
          throw new MalformedReplyException("\"max_paths\" out of range: " + limit);
        }
        return new Reply.Pong(id, version, protocol, limit);
      }
      throw new MalformedReplyException("reply has neither \"files\" nor \"version\"");
    } catch (JsonProcessingException e) {
      throw new MalformedReplyException("malformed JSON in reply: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new MalformedReplyException("malformed reply: " + e.getMessage());
    }
  }

  private static List<FileResult> readFiles(JsonParser p, JsonToken value) throws IOException {
    if (value != JsonToken.START_ARRAY) {
      throw new MalformedReplyException("\"files\" is not an array");
    }
    List<FileResult> files = new ArrayList<>();
    while (p.nextToken() == JsonToken.START_OBJECT) {
      String path = null;
      Boolean ok = null;
      Integer fd = null;
      long size = -1;
      long mtimeNs = FileResult.Granted.UNKNOWN;
      long mode = FileResult.Granted.UNKNOWN;
      String error = null;
      String message = null;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken v = p.nextToken();
        switch (field) {
          case "path" -> path = readString(p, v, field);
          case "ok" -> ok = readBoolean(p, v, field);
          case "fd" -> fd = readInt(p, v, field);
          case "size" -> size = readLong(p, v, field);
          case "mtime_ns" -> mtimeNs = readLong(p, v, field);
          case "mode" -> mode = readLong(p, v, field);
          case "error" -> error = readString(p, v, field);
          case "message" -> message = readString(p, v, field);
          default -> p.skipChildren();
        }
      }
      if (path == null || ok == null) {
        throw new MalformedReplyException("a file result lacks \"path\" or \"ok\"");
      }
      if (ok) {
        if (fd == null || fd < 0 || size < 0) {
          throw new MalformedReplyException("a granted file lacks a valid \"fd\" or \"size\"");
        }
        if (mode < FileResult.Granted.UNKNOWN || mode > 07777) {
          throw new MalformedReplyException("a granted file's \"mode\" is not permission bits: " + mode);
        }
        files.add(new FileResult.Granted(path, fd, size, mtimeNs, (int) mode));
      } else {
        files.add(new FileResult.Refused(path, code(error), message == null ? "" : message));
      }
    }
    if (p.currentToken() != JsonToken.END_ARRAY) {
      throw new MalformedReplyException("\"files\" holds something other than objects");
    }
    return files;
  }

  private static ErrorCode code(String error) throws MalformedReplyException {
    ErrorCode code = error == null ? null : ErrorCode.fromWireName(error);
    if (code == null) {
      // An unknown code from a newer broker is still a failure; io_error is the honest catch-all.
      if (error == null) {
        throw new MalformedReplyException("a failure without an \"error\" code");
      }
      return ErrorCode.IO_ERROR;
    }
    return code;
  }

  private static RequestId readId(JsonParser p, JsonToken value) throws IOException {
    return switch (value) {
      case VALUE_STRING -> RequestId.ofString(p.getText());
      case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> RequestId.ofParsedNumber(p.getText());
      case VALUE_TRUE -> RequestId.ofBoolean(true);
      case VALUE_FALSE -> RequestId.ofBoolean(false);
      case VALUE_NULL -> RequestId.NONE;
      default -> throw new MalformedReplyException("\"id\" is not a scalar");
    };
  }

  private static String readString(JsonParser p, JsonToken v, String field) throws IOException {
    if (v != JsonToken.VALUE_STRING) {
      throw new MalformedReplyException(quoteField(field) + " is not a string");
    }
    return p.getText();
  }

  private static boolean readBoolean(JsonParser p, JsonToken v, String field) throws IOException {
    if (v != JsonToken.VALUE_TRUE && v != JsonToken.VALUE_FALSE) {
      throw new MalformedReplyException(quoteField(field) + " is not a boolean");
    }
    return v == JsonToken.VALUE_TRUE;
  }

  private static int readInt(JsonParser p, JsonToken v, String field) throws IOException {
    if (v != JsonToken.VALUE_NUMBER_INT || !p.getNumberType().equals(JsonParser.NumberType.INT)) {
      throw new MalformedReplyException(quoteField(field) + " is not an integer");
    }
    return p.getIntValue();
  }

  private static long readLong(JsonParser p, JsonToken v, String field) throws IOException {
    if (v != JsonToken.VALUE_NUMBER_INT
        || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
      throw new MalformedReplyException(quoteField(field) + " is not an integer");
    }
    return p.getLongValue();
  }

  private static String quoteField(String field) {
    return '"' + field + '"';
  }
}
