package dev.fdbroker.client.nio;

import dev.fdbroker.client.FakeBroker;
import dev.fdbroker.client.FakeTree;
import dev.fdbroker.client.FdBrokerClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A broker file system over a {@link FakeTree}, with a clock of the test's own for the age of
 * listed attributes (it stands still unless the test moves it).
 */
final class FakeBrokerFileSystem implements AutoCloseable {
  final FakeTree tree;
  final Path socket;
  final FakeBroker broker;
  final FdBrokerClient client;
  final BrokerFileSystem fs;
  private volatile long now;

  FakeBrokerFileSystem(Path dir, FakeTree tree) throws IOException {
    this.tree = tree;
    this.socket = dir.resolve("broker.sock");
    this.broker = new FakeBroker(socket, tree.script());
    this.client = FdBrokerClient.builder(socket).build();
    this.fs = new BrokerFileSystem(new BrokerFileSystemProvider(), client, fs -> { }, () -> now);
  }

  /** A tree to fill, its contents kept under {@code dir}. */
  static FakeTree tree(Path dir) throws IOException {
    return new FakeTree(Files.createDirectories(dir.resolve("contents")));
  }

  void advanceSeconds(double seconds) {
    now += (long) (seconds * TimeUnit.SECONDS.toNanos(1));
  }

  Path path(String first, String... more) {
    return fs.getPath(first, more);
  }

  @Override
  public void close() throws IOException {
    fs.close();
    client.close();
    broker.close();
  }
}
