package dev.fdbroker.broker.it;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

/** renameat2(RENAME_EXCHANGE): swaps two paths atomically, the attacker's tool in the race tests. */
final class Exchange {
  private static final int AT_FDCWD = -100;
  private static final int RENAME_EXCHANGE = 2;
  private static final MethodHandle RENAMEAT2 = Linker.nativeLinker().downcallHandle(
      Linker.nativeLinker().defaultLookup().find("renameat2").orElseThrow(),
      FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT));

  private Exchange() {}

  /** Swaps {@code a} and {@code b}; false if the kernel refused. */
  static boolean swap(Path a, Path b) {
    try (Arena arena = Arena.ofConfined()) {
      return (int) RENAMEAT2.invokeExact(AT_FDCWD, arena.allocateFrom(a.toString()), AT_FDCWD,
          arena.allocateFrom(b.toString()), RENAME_EXCHANGE) == 0;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }
}
