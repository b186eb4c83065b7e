package dev.fdbroker.protocol;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;

/** The one JSON configuration both ends use. */
final class Json {
  /**
   * Strict and bounded: duplicate keys are an error (two "paths" must not mean either), nesting and
   * number length are capped far below anything a v1 message needs, and field names are not
   * interned, so hostile names cannot grow a shared symbol table.
   */
  static final JsonFactory FACTORY = JsonFactory.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
      .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
      .streamReadConstraints(StreamReadConstraints.builder()
          .maxNestingDepth(8)
          .maxNumberLength(ProtocolLimits.MAX_NUMBER_CHARS)
          .maxStringLength(ProtocolLimits.MAX_FRAME_BYTES)
          .maxDocumentLength(ProtocolLimits.MAX_FRAME_BYTES)
          .build())
      .build();

  private Json() {}
}
