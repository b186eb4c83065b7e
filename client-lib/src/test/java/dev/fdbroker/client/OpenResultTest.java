package dev.fdbroker.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.fdbroker.protocol.ErrorCode;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import org.junit.jupiter.api.Test;

class OpenResultTest {

  @Test
  void refusalsMapToJavaNioExceptions() {
    FileSystemException denied = new OpenResult.Refused("/a", ErrorCode.DENIED, "not allowed by policy").exception();
    assertInstanceOf(AccessDeniedException.class, denied);
    assertEquals("/a", denied.getFile());
    assertEquals("/a: not allowed by policy", denied.getMessage());
    assertInstanceOf(NoSuchFileException.class, new OpenResult.Refused("/b", ErrorCode.NOT_FOUND, "no such file").exception());
    for (ErrorCode code : new ErrorCode[] {ErrorCode.SYMLINK, ErrorCode.NOT_REGULAR, ErrorCode.BAD_REQUEST,
        ErrorCode.BUSY, ErrorCode.IO_ERROR}) {
      BrokerFileException e = assertInstanceOf(BrokerFileException.class,
          new OpenResult.Refused("/c", code, "why").exception());
      assertEquals(code, e.code());
      assertEquals("/c: " + code.wireName() + ": why", e.getMessage());
    }
    assertThrows(AccessDeniedException.class, () -> new OpenResult.Refused("/a", ErrorCode.DENIED, "x").file());
  }

  @Test
  void buildersRejectNonsense() {
    assertThrows(IllegalArgumentException.class,
        () -> FdBrokerClient.builder(java.nio.file.Path.of("/x")).maxConnections(0));
    assertThrows(IllegalArgumentException.class,
        () -> FdBrokerClient.builder(java.nio.file.Path.of("/x")).requestTimeout(java.time.Duration.ZERO));
  }
}
