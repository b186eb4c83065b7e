package dev.fdbroker.protocol;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;

/** The one JSON configuration both ends use. */
final class Json {
  /**
   * Strict and bounded: duplicate keys are an error (two "paths" must not mean either), nesting and
   * number length are capped far below anything a v1 message needs, and field names are not
   * interned into the JVM's string table. They are canonicalized (Jackson's byte-level symbol
   * table, which it bounds: it stops keeping names past a few thousand, and fails on hash
   * flooding), since without that Jackson parses bytes through a char Reader, at twice the cost.
   */
  static final JsonFactory FACTORY = factory(true);

  /**
   * The same, without Jackson's duplicate-key detection: a hash set per object, the largest part
   * of what parsing a request allocates. {@link RequestCodec} checks its three fields itself; a
   * request holds no nested objects.
   */
  static final JsonFactory REQUESTS = factory(false);

  private static JsonFactory factory(boolean detectDuplicates) {
    return JsonFactory.builder()
        .configure(StreamReadFeature.STRICT_DUPLICATE_DETECTION, detectDuplicates)
        .enable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
        .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
        .enable(JsonFactory.Feature.FAIL_ON_SYMBOL_HASH_OVERFLOW)
        .streamReadConstraints(StreamReadConstraints.builder()
            .maxNestingDepth(8)
            .maxNumberLength(ProtocolLimits.MAX_NUMBER_CHARS)
            .maxStringLength(ProtocolLimits.MAX_FRAME_BYTES)
            .maxDocumentLength(ProtocolLimits.MAX_FRAME_BYTES)
            .build())
        .build();
  }

  private Json() {}
}
