package dev.fdbroker.client;

import dev.fdbroker.protocol.ErrorCode;
import java.nio.file.FileSystemException;

/** The outcome for one path of {@link FdBrokerClient#statAll}. */
public sealed interface StatResult permits StatResult.Found, StatResult.Refused {

  /** The path as it was asked for. */
  String path();

  /** What the broker found, or the refusal as the exception {@link FdBrokerClient#stat} would throw. */
  FileStat stat() throws FileSystemException;

  /** The broker described the path. */
  record Found(FileStat fileStat) implements StatResult {
    @Override
    public String path() {
      return fileStat.path();
    }

    @Override
    public FileStat stat() {
      return fileStat;
    }
  }

  /** The broker refused to describe the path (the policy denies it, it does not exist...). */
  record Refused(String path, ErrorCode code, String message) implements StatResult {
    @Override
    public FileStat stat() throws FileSystemException {
      throw exception();
    }

    /**
     * The refusal as a java.nio exception: {@link java.nio.file.AccessDeniedException} for {@code
     * denied}, {@link java.nio.file.NoSuchFileException} for {@code not_found}, {@link
     * BrokerFileException} (carrying the code) for the rest, such as {@code symlink}.
     */
    public FileSystemException exception() {
      return Refusals.exception(path, code, message);
    }
  }
}
