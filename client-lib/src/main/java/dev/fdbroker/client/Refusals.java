package dev.fdbroker.client;

import dev.fdbroker.protocol.ErrorCode;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/** The one mapping from a broker's refusal of a path to the java.nio exception a Java user expects. */
final class Refusals {
  private Refusals() {}

  /**
   * {@link AccessDeniedException} for {@code denied}, {@link NoSuchFileException} for {@code
   * not_found}, {@link NotDirectoryException} for {@code not_directory} (whose message then stays
   * the broker's own, unsaid), {@link BrokerFileException} carrying the code for the rest.
   */
  static FileSystemException exception(String path, ErrorCode code, String message) {
    switch (code) {
      case DENIED:
        return new AccessDeniedException(path, null, message);
      case NOT_FOUND:
        return new NoSuchFileException(path, null, message);
      case NOT_DIRECTORY:
        return new NotDirectoryException(path);
      default:
        return new BrokerFileException(path, code, message);
    }
  }
}
