package dev.fdbroker.client.nio;

import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.ReadOnlyFileSystemException;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Set;

/**
 * Which ways of opening a read-only file system allows. Writing ({@code WRITE}, {@code APPEND}) and
 * deleting on close ({@code DELETE_ON_CLOSE}) are refused with {@link ReadOnlyFileSystemException}
 * before the broker is asked. {@code CREATE}, {@code CREATE_NEW} and {@code TRUNCATE_EXISTING} are
 * ignored, as java.nio specifies for a file opened only for reading; {@code NOFOLLOW_LINKS} is what
 * the broker always does. An option of another type is an {@link UnsupportedOperationException}.
 */
final class OpenOptions {
  private OpenOptions() {}

  static void checkReadOnly(Set<? extends OpenOption> options) {
    for (OpenOption option : options) {
      if (option == StandardOpenOption.WRITE || option == StandardOpenOption.APPEND
          || option == StandardOpenOption.DELETE_ON_CLOSE) {
        throw new ReadOnlyFileSystemException();
      }
      if (!(option instanceof StandardOpenOption) && !(option instanceof LinkOption)) {
        throw new UnsupportedOperationException("'" + option + "' not supported");
      }
    }
  }

  static void checkReadOnly(OpenOption... options) {
    checkReadOnly(Set.copyOf(Arrays.asList(options)));
  }
}
