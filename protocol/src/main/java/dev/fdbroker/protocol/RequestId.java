package dev.fdbroker.protocol;

import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.util.Objects;

/**
 * The caller's request id: any JSON scalar, echoed back verbatim in the reply. Numbers keep their
 * exact text so that ids beyond a double's precision survive the round trip.
 */
public final class RequestId {
  /** The JSON type of an id. */
  public enum Kind {
    STRING,
    NUMBER,
    TRUE,
    FALSE,
    NULL
  }

  /** The id used when the request carried none, or could not be read far enough to find it. */
  public static final RequestId NONE = new RequestId(Kind.NULL, "null");

  private final Kind kind;
  private final String text;

  private RequestId(Kind kind, String text) {
    this.kind = kind;
    this.text = text;
  }

  /** A string id. */
  public static RequestId ofString(String value) {
    return new RequestId(Kind.STRING, Objects.requireNonNull(value));
  }

  /** A numeric id. */
  public static RequestId ofNumber(long value) {
    return new RequestId(Kind.NUMBER, Long.toString(value));
  }

  /**
   * A numeric id from the exact text a JSON parser accepted as a number. Never pass unvalidated
   * text: it is written back to the wire as is.
   */
  static RequestId ofParsedNumber(String jsonNumberText) {
    return new RequestId(Kind.NUMBER, jsonNumberText);
  }

  static RequestId ofBoolean(boolean value) {
    return value ? new RequestId(Kind.TRUE, "true") : new RequestId(Kind.FALSE, "false");
  }

  public Kind kind() {
    return kind;
  }

  /** The id's JSON text for numbers, booleans and null; the decoded value for strings. */
  public String text() {
    return text;
  }

  void write(JsonGenerator json, String field) throws IOException {
    json.writeFieldName(field);
    switch (kind) {
      case STRING:
        json.writeString(text);
        break;
      case NUMBER:
        json.writeNumber(text);
        break;
      case TRUE:
        json.writeBoolean(true);
        break;
      case FALSE:
        json.writeBoolean(false);
        break;
      default:
        json.writeNull();
        break;
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RequestId && ((RequestId) o).kind == kind && ((RequestId) o).text.equals(text);
  }

  @Override
  public int hashCode() {
    return kind.hashCode() * 31 + text.hashCode();
  }

  @Override
  public String toString() {
    return kind == Kind.STRING ? '"' + text + '"' : text;
  }
}
