package dev.fdbroker.broker.it;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Clients that pipeline many small requests and read nothing for a while. The kernel charges a
 * unix socket's send buffer by message, some 750 bytes for a 100-byte reply, so two hundred-odd
 * unread small replies fill it. Before the broker counted that, a reply with descriptors that came
 * next went out in part, descriptors attached, and was then treated as never sent: its charge
 * given back (the uid could hold more in flight than its limit), a busy frame written into the
 * middle of the cut one, and the grants audited as not delivered.
 */
class UnreadRepliesIT {
  private static final int GRANTS = 8;
  /** High enough that the connections together leave each a share above GRANTS (Connection.unconfirmedDescriptors). */
  private static final int LIMIT = 2000;

  @Test
  void aFullSocketNeverCutsAReply() throws Exception {
    String limits = "{request_timeout_seconds: 1, requests_per_second_per_uid: 1000000,"
        + " max_paths_per_request: 24, max_descriptors_in_flight_per_uid: " + LIMIT + "}";
    // As the unit runs it where the tests may (root: its user, one capability, a held socket).
    try (Fixture f = ItSupport.isRoot() ? Fixture.startOnHost(limits) : Fixture.start(limits)) {
      RunningBroker broker = f.host != null ? f.host : f.broker;
      byte[] small = RawClient.frame("{\"op\":\"stat\",\"paths\":[\"/a\"]}");
      StringBuilder paths = new StringBuilder();
      for (int i = 0; i < GRANTS; i++) {
        paths.append('"').append(f.allowed).append("/public.txt\",");
      }
      // Long denied paths make the reply bigger than one message of the kernel's (about 36 KB).
      String deniedDir = f.root + "/outside/" + ("d".repeat(200) + "/").repeat(15);
      for (int i = 0; i < 12; i++) {
        paths.append('"').append(deniedDir).append('x').append(i).append("\",");
      }
      byte[] big = RawClient.frame("{\"op\":\"open\",\"paths\":[" + paths.substring(0, paths.length() - 1) + "]}");
      // Many unread replies before the big one, in steps across where the socket fills up.
      List<RawClient> held = new ArrayList<>();
      try {
        for (int n = 200; n <= 290; n += 2) {
          RawClient c = new RawClient(f.socket);
          held.add(c);
          ByteArrayOutputStream all = new ByteArrayOutputStream();
          for (int i = 0; i < n; i++) {
            all.writeBytes(small);
          }
          all.writeBytes(big);
          c.send(all.toByteArray());
        }
        Thread.sleep(2500); // past the request timeout, none of them read
        for (RawClient c : held) {
          Drained d = drain(c);
          assertFalse(d.truncated, "a reply was cut short: " + d);
        }
        assertTrue(broker.isAlive(), broker.log());
      } finally {
        for (RawClient c : held) {
          c.close();
        }
      }
    }
  }

  private record Drained(int bytes, int descriptors, boolean truncated, int frames) {}

  /** Reads what the broker sent until the end of the stream (or a second's silence), closing every descriptor. */
  private static Drained drain(RawClient c) throws IOException {
    c.socket.setSoTimeout(1000);
    ByteArrayOutputStream got = new ByteArrayOutputStream();
    int descriptors = 0;
    byte[] buf = new byte[65536];
    try {
      int r;
      while ((r = c.socket.getInputStream().read(buf)) >= 0) {
        got.write(buf, 0, r);
        FileDescriptor[] fds = c.socket.getReceivedFileDescriptors();
        if (fds != null) {
          descriptors += fds.length;
          for (FileDescriptor fd : fds) {
            new FileInputStream(fd).close();
          }
        }
      }
    } catch (IOException e) {
      // a second's silence, or a reset: what came is what there is
    }
    byte[] b = got.toByteArray();
    int off = 0;
    int frames = 0;
    while (off < b.length) {
      if (off + 4 > b.length) {
        return new Drained(b.length, descriptors, true, frames);
      }
      int len = ((b[off] & 0xff) << 24) | ((b[off + 1] & 0xff) << 16) | ((b[off + 2] & 0xff) << 8) | (b[off + 3] & 0xff);
      if (off + 4 + len > b.length) {
        return new Drained(b.length, descriptors, true, frames);
      }
      off += 4 + len;
      frames++;
    }
    return new Drained(b.length, descriptors, false, frames);
  }
}
