package dev.fdbroker.broker.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fdbroker.protocol.Frame;
import dev.fdbroker.protocol.FrameReader;
import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** A bare protocol client for tests that must send what no well-behaved client would. */
final class RawClient implements Closeable {
  final AFUNIXSocket socket;
  private final OutputStream out;
  private final InputStream in;
  private final FrameReader reader;
  FileDescriptor[] lastDescriptors = new FileDescriptor[0];

  RawClient(Path path) throws IOException {
    socket = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(path));
    socket.setSoTimeout(10_000);
    socket.setAncillaryReceiveBufferSize(256);
    out = socket.getOutputStream();
    in = socket.getInputStream();
    reader = new FrameReader(in);
  }

  static byte[] frame(String json) {
    return frame(json.getBytes(StandardCharsets.UTF_8));
  }

  static byte[] frame(byte[] payload) {
    byte[] f = new byte[payload.length + 4];
    int n = payload.length;
    f[0] = (byte) (n >>> 24);
    f[1] = (byte) (n >>> 16);
    f[2] = (byte) (n >>> 8);
    f[3] = (byte) n;
    System.arraycopy(payload, 0, f, 4, n);
    return f;
  }

  RawClient send(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
    return this;
  }

  /** Reads one reply frame as JSON, keeping any descriptors that came with it in {@link #lastDescriptors}. */
  JsonNode reply() throws IOException {
    Frame f = reader.next();
    if (f == null) {
      throw new java.io.EOFException("broker closed the connection");
    }
    lastDescriptors = socket.getReceivedFileDescriptors();
    return Fixture.JSON.readTree(Arrays.copyOfRange(f.array(), f.offset(), f.offset() + f.length()));
  }

  JsonNode request(String json) throws IOException {
    return send(frame(json)).reply();
  }

  /** True once the broker has closed its end (EOF within the socket timeout). */
  boolean closedByBroker() throws IOException {
    try {
      return in.read() < 0;
    } catch (java.net.SocketException e) {
      return true; // reset
    }
  }

  void closeDescriptors() throws IOException {
    for (FileDescriptor fd : lastDescriptors) {
      new FileInputStream(fd).close();
    }
    lastDescriptors = new FileDescriptor[0];
  }

  @Override
  public void close() throws IOException {
    closeDescriptors();
    socket.close();
  }
}
