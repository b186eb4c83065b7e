package dev.fdbroker.client;

import dev.fdbroker.protocol.ErrorCode;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;

/** The outcome for one path of {@link FdBrokerClient#openAll}. */
public sealed interface OpenResult permits OpenResult.Granted, OpenResult.Refused {

  /** The path as it was requested. */
  String path();

  /** The opened file, or the refusal as the exception {@link FdBrokerClient#open} would throw. */
  BrokeredFile file() throws FileSystemException;

  /** The broker opened the file. */
  record Granted(BrokeredFile brokeredFile) implements OpenResult {
    @Override
    public String path() {
      return brokeredFile.path();
    }

    @Override
    public BrokeredFile file() {
      return brokeredFile;
    }
  }

  /** The broker refused the file. */
  record Refused(String path, ErrorCode code, String message) implements OpenResult {
    @Override
    public BrokeredFile file() throws FileSystemException {
      throw exception();
    }

    /**
     * The refusal as a java.nio exception: {@link AccessDeniedException} for {@code denied}, {@link
     * NoSuchFileException} for {@code not_found}, {@link BrokerFileException} (carrying the code)
     * for the rest.
     */
    public FileSystemException exception() {
      return Refusals.exception(path, code, message);
    }
  }
}
