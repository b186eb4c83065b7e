package dev.fdbroker.broker.policy;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import dev.fdbroker.broker.policy.ConfigNode.Entry;
import dev.fdbroker.broker.policy.ConfigNode.Kind;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;

/**
 * Reads a YAML or JSON config file (JSON if the name ends in {@code .json}) into a {@link
 * ConfigNode} tree. Plain data only: YAML anchors, aliases and tags are refused, as are duplicate
 * keys, deep nesting and files over {@value #MAX_BYTES} bytes.
 */
final class ConfigReader {
  static final int MAX_BYTES = 16 * 1024 * 1024;
  private static final int MAX_DEPTH = 32;

  private static final StreamReadConstraints CONSTRAINTS = StreamReadConstraints.builder()
      .maxNestingDepth(MAX_DEPTH)
      .maxDocumentLength(MAX_BYTES)
      .maxStringLength(MAX_BYTES)
      .build();

  private static final JsonFactory JSON = JsonFactory.builder()
      .streamReadConstraints(CONSTRAINTS)
      .build();

  private static final YAMLFactory YAML = yamlFactory();

  private static YAMLFactory yamlFactory() {
    LoaderOptions options = new LoaderOptions();
    options.setAllowRecursiveKeys(false);
    options.setMaxAliasesForCollections(1);
    options.setNestingDepthLimit(MAX_DEPTH);
    options.setCodePointLimit(MAX_BYTES);
    return YAMLFactory.builder()
        .loaderOptions(options)
        // "rules:" with nothing after it is YAML's null, not the string "" that Jackson makes of it
        // by default; a message can then say "no value" (and an explicit '' stays a string).
        .enable(YAMLParser.Feature.EMPTY_STRING_AS_NULL)
        .streamReadConstraints(CONSTRAINTS)
        .build();
  }

  private final String name;

  private ConfigReader(String name) {
    this.name = name;
  }

  /**
   * Reads {@code file}. Messages name it as {@code displayName} (the path as the operator gave it).
   */
  static ConfigNode read(Path file, String displayName) throws ConfigException {
    // A FIFO or a device would block the reader (and with it every later reload) or never end.
    if (Files.exists(file) && !Files.isRegularFile(file)) {
      throw new ConfigException(displayName, null, "", "not a regular file");
    }
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file)) {
      bytes = in.readNBytes(MAX_BYTES + 1);
    } catch (IOException e) {
      throw new ConfigException(displayName, null, "", "cannot read the file: " + describe(e));
    }
    if (bytes.length > MAX_BYTES) {
      throw new ConfigException(displayName, null, "", "the file is larger than " + MAX_BYTES + " bytes");
    }
    boolean json = file.getFileName() != null && file.getFileName().toString().endsWith(".json");
    return new ConfigReader(displayName).parse(bytes, json ? JSON : YAML);
  }

  private static String describe(IOException e) {
    String kind = e.getClass().getSimpleName()
        .replace("NoSuchFileException", "no such file")
        .replace("AccessDeniedException", "permission denied");
    return e instanceof java.nio.file.FileSystemException fse && fse.getReason() == null ? kind
        : kind + " (" + e.getMessage() + ")";
  }

  private ConfigNode parse(byte[] bytes, JsonFactory factory) throws ConfigException {
    try (JsonParser p = factory.createParser(bytes)) {
      JsonToken first = p.nextToken();
      if (first == null) {
        throw new ConfigException(name, null, "", "the file is empty");
      }
      ConfigNode root = readValue(p, first, "");
      JsonToken after = p.nextToken();
      if (after != null) {
        throw error(p, "", "more than one document (or trailing data) in the file");
      }
      return root;
    } catch (JsonProcessingException e) {
      JsonLocation l = e.getLocation();
      Location at = l == null ? null : new Location(l.getLineNr(), l.getColumnNr());
      throw new ConfigException(name, at, "", "not valid " + (factory == JSON ? "JSON" : "YAML")
          + ": " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new ConfigException(name, null, "", "cannot parse the file: " + e.getMessage());
    } catch (RuntimeException e) {
      // SnakeYAML reports some limits (alias counts, code points) as unchecked exceptions.
      throw new ConfigException(name, null, "", "not valid YAML: " + e.getMessage());
    }
  }

  private ConfigNode readValue(JsonParser p, JsonToken t, String field) throws IOException, ConfigException {
    refuseYamlTricks(p, field);
    Location at = location(p);
    switch (t) {
      case START_OBJECT -> {
        Map<String, Entry> entries = new LinkedHashMap<>();
        JsonToken k;
        while ((k = p.nextToken()) == JsonToken.FIELD_NAME) {
          String key = p.currentName();
          Location keyAt = location(p);
          String keyField = field.isEmpty() ? key : field + "." + key;
          Entry earlier = entries.get(key);
          if (earlier != null) {
            throw new ConfigException(name, keyAt, keyField,
                "duplicate key (first at line " + earlier.keyLocation().line() + ")");
          }
          ConfigNode value = readValue(p, p.nextToken(), keyField);
          entries.put(key, new Entry(key, keyAt, value));
        }
        if (k != JsonToken.END_OBJECT) {
          throw error(p, field, "unexpected " + k + " in a mapping");
        }
        return new ConfigNode.MapNode(at, entries);
      }
      case START_ARRAY -> {
        List<ConfigNode> items = new ArrayList<>();
        JsonToken i;
        while ((i = p.nextToken()) != JsonToken.END_ARRAY) {
          if (i == null) {
            throw error(p, field, "the list is not closed");
          }
          items.add(readValue(p, i, field + "[" + items.size() + "]"));
        }
        return new ConfigNode.ListNode(at, items);
      }
      case VALUE_STRING -> {
        return new ConfigNode.ScalarNode(at, Kind.STRING, p.getText());
      }
      case VALUE_NUMBER_INT -> {
        return new ConfigNode.ScalarNode(at, Kind.INTEGER, p.getText());
      }
      case VALUE_NUMBER_FLOAT -> {
        return new ConfigNode.ScalarNode(at, Kind.DECIMAL, p.getText());
      }
      case VALUE_TRUE, VALUE_FALSE -> {
        return new ConfigNode.ScalarNode(at, Kind.BOOLEAN, t == JsonToken.VALUE_TRUE ? "true" : "false");
      }
      case VALUE_NULL -> {
        String text = p.getText().isEmpty() ? ConfigNode.NO_VALUE : "null";
        return new ConfigNode.ScalarNode(at, Kind.NULL, text);
      }
      default -> throw error(p, field, "unexpected " + t);
    }
  }

  /** A policy is plain data; anchors, aliases and tags only hide what it says (or bomb the parser). */
  private void refuseYamlTricks(JsonParser p, String field) throws IOException, ConfigException {
    if (!(p instanceof YAMLParser y)) {
      return;
    }
    if (y.isCurrentAlias()) {
      throw error(p, field, "YAML aliases (*name) are not allowed in a policy; write the value out");
    }
    if (y.getObjectId() != null) {
      throw error(p, field, "YAML anchors (&name) are not allowed in a policy");
    }
    if (y.getTypeId() != null) {
      throw error(p, field, "YAML tags (!" + y.getTypeId() + ") are not allowed in a policy");
    }
  }

  private static Location location(JsonParser p) {
    JsonLocation l = p.currentTokenLocation();
    return new Location(l.getLineNr(), l.getColumnNr());
  }

  private ConfigException error(JsonParser p, String field, String problem) {
    return new ConfigException(name, location(p), field, problem);
  }
}
