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
    JsonBytes out = JsonBytes.start(0);
    encode(reply, out);
    return out.toBytes();
  }

  /**
   * Encodes a reply as a complete frame, header included, into {@code out}, which is emptied
   * first: the frame is {@code out}'s first {@link JsonBytes#length} bytes, in place (the broker
   * writes it from there, with no array of its own). It may exceed the frame limit.
   */
  public static void encode(Reply reply, JsonBytes out) {
    out.reset(ProtocolLimits.HEADER_BYTES);
    out.raw(ID);
    id(out, reply.id());
    if (reply instanceof Reply.Opened opened) {
      files(out, opened.files());
    } else if (reply instanceof Reply.Stated stated) {
      files(out, stated.files());
    } else if (reply instanceof Reply.Listed listed) {
      out.raw(OK_ENTRIES);
      List<DirEntry> entries = listed.entries();
      for (int i = 0; i < entries.size(); i++) {
        DirEntry e = entries.get(i);
        out.raw(i == 0 ? FIRST_NAME : NEXT_NAME);
        out.string(e.name());
        out.raw(TYPE);
        out.string(e.type().wireName());
        attributes(out, e.size(), e.mtimeNs(), e.mode());
        out.put((byte) '}');
      }
      out.raw(CURSOR);
      out.string(listed.cursor());
      out.put((byte) '}');
    } else if (reply instanceof Reply.Pong pong) {
      out.raw(OK_VERSION);
      out.string(pong.brokerVersion());
      out.raw(PROTOCOL);
      out.number(pong.protocolVersion());
      out.raw(MAX_PATHS);
      out.number(pong.maxPaths());
      out.raw(OPS);
      for (int i = 0; i < pong.ops().size(); i++) {
        if (i > 0) {
          out.put((byte) ',');
        }
        out.string(pong.ops().get(i));
      }
      out.raw(END_OPS);
    } else {
      Reply.Failed failed = (Reply.Failed) reply;
      out.raw(FAILED_ERROR);
      out.string(failed.error().wireName());
      out.raw(MESSAGE);
      out.string(failed.message());
      out.put((byte) '}');
    }
    FrameBuffer.putHeader(out.array(), out.length() - ProtocolLimits.HEADER_BYTES);
  }

  /** The per-path results of an open or a stat. */
  private static void files(JsonBytes out, List<FileResult> files) {
    out.raw(OK_FILES);
    for (int i = 0; i < files.size(); i++) {
      FileResult file = files.get(i);
      out.raw(i == 0 ? FIRST_PATH : NEXT_PATH);
      out.string(file.path());
      if (file instanceof FileResult.Granted granted) {
        out.raw(GRANTED_FD);
        out.number(granted.fd());
        out.raw(SIZE);
        out.number(granted.size());
        attributes(out, FileResult.UNKNOWN, granted.mtimeNs(), granted.mode());
      } else if (file instanceof FileResult.Found found) {
        out.raw(FOUND_TYPE);
        out.string(found.type().wireName());
        attributes(out, found.size(), found.mtimeNs(), found.mode());
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
  }

  /** Size, modification time and mode, each left out when {@link FileResult#UNKNOWN}. */
  private static void attributes(JsonBytes out, long size, long mtimeNs, int mode) {
    if (size != FileResult.UNKNOWN) {
      out.raw(SIZE);
      out.number(size);
    }
    if (mtimeNs != FileResult.UNKNOWN) {
      out.raw(MTIME_NS);
      out.number(mtimeNs);
    }
    if (mode != FileResult.UNKNOWN) {
      out.raw(MODE);
      out.number(mode);
    }
  }

  /**
   * The exact number of bytes {@code entry} adds to a listing reply, its separating comma
   * included: what lets the broker fill a page up to the frame limit without encoding it twice.
   */
  public static int listedEntryBytes(DirEntry entry) {
    int n = NEXT_NAME.length + JsonText.quotedBytes(entry.name()) + TYPE.length
        + JsonText.quotedBytes(entry.type().wireName()) + 1;
    if (entry.size() != FileResult.UNKNOWN) {
      n += SIZE.length + digits(entry.size());
    }
    if (entry.mtimeNs() != FileResult.UNKNOWN) {
      n += MTIME_NS.length + digits(entry.mtimeNs());
    }
    if (entry.mode() != FileResult.UNKNOWN) {
      n += MODE.length + digits(entry.mode());
    }
    return n;
  }

  /**
   * How many bytes of entries ({@link #listedEntryBytes} each) a listing reply to {@code id} can
   * hold and still fit one frame, whatever cursor (up to {@link ProtocolLimits#MAX_CURSOR_CHARS}
   * printable ASCII characters) it ends with.
   */
  public static int listingRoom(RequestId id) {
    int idBytes = switch (id.kind()) {
      case STRING -> JsonText.quotedBytes(id.text());
      case NUMBER -> id.text().length();
      case FALSE -> FALSE.length;
      default -> NULL.length; // as long as TRUE

    };
    // The worst cursor: every character escaped as \\ or \" takes two bytes, plus the quotes.
    int envelope = ID.length + idBytes + OK_ENTRIES.length + CURSOR.length + 2 * ProtocolLimits.MAX_CURSOR_CHARS + 2 + 1;
    return ProtocolLimits.MAX_FRAME_BYTES - envelope;
  }

  private static int digits(long v) {
    if (v < 0) {
      return v == Long.MIN_VALUE ? 20 : 1 + digits(-v);
    }
    int n = 1;
    while (v >= 10) {
      v /= 10;
      n++;
    }
    return n;
  }

  private static final byte[] ID = JsonBytes.ascii("{\"id\":");
  private static final byte[] OK_FILES = JsonBytes.ascii(",\"ok\":true,\"files\":[");
  private static final byte[] FIRST_PATH = JsonBytes.ascii("{\"path\":");
  private static final byte[] NEXT_PATH = JsonBytes.ascii(",{\"path\":");
  private static final byte[] GRANTED_FD = JsonBytes.ascii(",\"ok\":true,\"fd\":");
  private static final byte[] SIZE = JsonBytes.ascii(",\"size\":");
  private static final byte[] MTIME_NS = JsonBytes.ascii(",\"mtime_ns\":");
  private static final byte[] MODE = JsonBytes.ascii(",\"mode\":");
  private static final byte[] FOUND_TYPE = JsonBytes.ascii(",\"ok\":true,\"type\":");
  private static final byte[] OK_ENTRIES = JsonBytes.ascii(",\"ok\":true,\"entries\":[");
  private static final byte[] FIRST_NAME = JsonBytes.ascii("{\"name\":");
  private static final byte[] NEXT_NAME = JsonBytes.ascii(",{\"name\":");
  private static final byte[] TYPE = JsonBytes.ascii(",\"type\":");
  private static final byte[] CURSOR = JsonBytes.ascii("],\"cursor\":");
  private static final byte[] OPS = JsonBytes.ascii(",\"ops\":[");
  private static final byte[] END_OPS = JsonBytes.ascii("]}");
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
      case NUMBER -> out.rawAscii(id.text()); // the parser's own number text, checked when decoded
      case TRUE -> out.raw(TRUE);
      case FALSE -> out.raw(FALSE);
      default -> out.raw(NULL);
    }
  }

  /**
   * Decodes a reply to an open or a ping.
   *
   * @throws MalformedReplyException the frame is not a v1 reply
   */
  public static Reply decode(Frame frame) throws MalformedReplyException {
    return decode(frame, "open");
  }

  /**
   * Decodes the reply to a request of operation {@code op} ({@link Request#op()}): the entries of
   * "files" are grants after an open and descriptions after a stat, which a reply whose every entry
   * is a refusal would not tell apart.
   *
   * @throws MalformedReplyException the frame is not a v1 reply
   */
  public static Reply decode(Frame frame, String op) throws MalformedReplyException {
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
      List<DirEntry> entries = null;
      String cursor = null;
      List<String> ops = null;
      boolean stat = op.equals("stat");
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
          case "files" -> files = readFiles(p, value, stat);
          case "entries" -> entries = readEntries(p, value);
          case "cursor" -> cursor = value == JsonToken.VALUE_NULL ? null : readString(p, value, field);
          case "ops" -> ops = readStrings(p, value, field);
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
        return stat ? new Reply.Stated(id, files) : new Reply.Opened(id, files);
      }
      if (entries != null) {
        if (cursor != null && (cursor.isEmpty() || cursor.length() > ProtocolLimits.MAX_CURSOR_CHARS)) {
          throw new MalformedReplyException("\"cursor\" is not 1 to " + ProtocolLimits.MAX_CURSOR_CHARS + " characters");
        }
        return new Reply.Listed(id, entries, cursor);
      }
      if (version != null && protocol != null) {
        int limit = maxPaths == null ? ProtocolLimits.MAX_PATHS_PER_REQUEST : maxPaths;
        if (limit < 1 || limit > ProtocolLimits.MAX_PATHS_PER_REQUEST) {
          throw new MalformedReplyException("\"max_paths\" out of range: " + limit);
        }
        return new Reply.Pong(id, version, protocol, limit, ops == null ? Reply.Pong.FIRST_OPS : ops);
      }
      throw new MalformedReplyException("reply has neither \"files\", \"entries\" nor \"version\"");
    } catch (JsonProcessingException e) {
      throw new MalformedReplyException("malformed JSON in reply: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new MalformedReplyException("malformed reply: " + e.getMessage());
    }
  }

  private static List<String> readStrings(JsonParser p, JsonToken value, String field) throws IOException {
    if (value != JsonToken.START_ARRAY) {
      throw new MalformedReplyException(quoteField(field) + " is not an array");
    }
    List<String> strings = new ArrayList<>();
    JsonToken t;
    while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
      strings.add(readString(p, t, field));
    }
    return strings;
  }

  private static List<DirEntry> readEntries(JsonParser p, JsonToken value) throws IOException {
    if (value != JsonToken.START_ARRAY) {
      throw new MalformedReplyException("\"entries\" is not an array");
    }
    List<DirEntry> entries = new ArrayList<>();
    while (p.nextToken() == JsonToken.START_OBJECT) {
      String name = null;
      String type = null;
      long size = FileResult.UNKNOWN;
      long mtimeNs = FileResult.UNKNOWN;
      long mode = FileResult.UNKNOWN;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken v = p.nextToken();
        switch (field) {
          case "name" -> name = readString(p, v, field);
          case "type" -> type = readString(p, v, field);
          case "size" -> size = readLong(p, v, field);
          case "mtime_ns" -> mtimeNs = readLong(p, v, field);
          case "mode" -> mode = readLong(p, v, field);
          default -> p.skipChildren();
        }
      }
      if (name == null || type == null) {
        throw new MalformedReplyException("an entry lacks \"name\" or \"type\"");
      }
      // A name is joined to the listed directory's path by the client: it must be one component.
      String problem = DirEntry.nameProblem(name);
      if (problem != null) {
        throw new MalformedReplyException(problem + ": " + RequestCodec.quote(name));
      }
      entries.add(new DirEntry(name, FileType.fromWireName(type), size, mtimeNs, mode(mode)));
    }
    if (p.currentToken() != JsonToken.END_ARRAY) {
      throw new MalformedReplyException("\"entries\" holds something other than objects");
    }
    return entries;
  }

  private static int mode(long mode) throws MalformedReplyException {
    if (mode < FileResult.UNKNOWN || mode > 07777) {
      throw new MalformedReplyException("\"mode\" is not permission bits: " + mode);
    }
    return (int) mode;
  }

  private static List<FileResult> readFiles(JsonParser p, JsonToken value, boolean stat) throws IOException {
    if (value != JsonToken.START_ARRAY) {
      throw new MalformedReplyException("\"files\" is not an array");
    }
    List<FileResult> files = new ArrayList<>();
    while (p.nextToken() == JsonToken.START_OBJECT) {
      String path = null;
      Boolean ok = null;
      Integer fd = null;
      String type = null;
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
          case "type" -> type = readString(p, v, field);
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
      if (ok && stat) {
        if (type == null) {
          throw new MalformedReplyException("a stat result lacks \"type\"");
        }
        files.add(new FileResult.Found(path, FileType.fromWireName(type), size, mtimeNs, mode(mode)));
      } else if (ok) {
        if (fd == null || fd < 0 || size < 0) {
          throw new MalformedReplyException("a granted file lacks a valid \"fd\" or \"size\"");
        }
        files.add(new FileResult.Granted(path, fd, size, mtimeNs, mode(mode)));
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
