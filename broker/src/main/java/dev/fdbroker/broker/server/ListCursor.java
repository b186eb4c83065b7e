package dev.fdbroker.broker.server;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.Cipher;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where a listing goes on: a directory (device and inode) and a position in it (a getdents offset,
 * as telldir gives it).
 *
 * <p>Invariant: a cursor reveals nothing and cannot be forged. A raw position is the filesystem's
 * own (on ext4 a keyed hash of the name that follows, the key shared by the whole filesystem), and
 * it is often the position of an entry the caller may not see: a caller who could read one, or
 * seek to one of its choosing, could test guessed names for existence. So the broker seals each
 * cursor with AES-GCM under a key of its own; a cursor that does not open is refused. The key is
 * kept in the service's state directory (systemd's {@code StateDirectory=}, readable by the
 * broker's user only), so that a listing goes on across a restart; without one it is made anew at
 * each start.
 */
record ListCursor(long device, long inode, long offset) {
  private static final int NONCE_BYTES = 12;
  private static final int TAG_BITS = 128;
  private static final int PLAIN_BYTES = 24;
  private static final Base64.Encoder TEXT = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder FROM_TEXT = Base64.getUrlDecoder();

  /** Seals and opens cursors under one key. Thread-safe. */
  static final class Seal {
    private static final Logger LOG = LoggerFactory.getLogger(ListCursor.class);
    private static final int KEY_BYTES = 16;
    static final String KEY_FILE = "cursor.key";

    /** The key; made on first use when this broker has no state directory to keep one in. */
    private volatile SecretKey key;

    /**
     * The JDK's SecureRandom, set up on first use: it loads and initializes the security providers,
     * some milliseconds of start-up that nothing needs before the first listing (or a first key).
     */
    private static final class Random {
      static final SecureRandom INSTANCE = new SecureRandom();
    }

    /** Under a key made when first needed: cursors last as long as this broker. */
    Seal() {}

    private Seal(byte[] keyBytes) {
      key = new SecretKeySpec(keyBytes, "AES");
    }

    private SecretKey key() {
      SecretKey k = key;
      if (k == null) {
        synchronized (this) {
          k = key;
          if (k == null) {
            byte[] bytes = new byte[KEY_BYTES];
            Random.INSTANCE.nextBytes(bytes);
            key = k = new SecretKeySpec(bytes, "AES");
          }
        }
      }
      return k;
    }

    /**
     * Under the key in {@code $STATE_DIRECTORY/cursor.key} (the first directory systemd names),
     * made there on first use, 0600; else, or if that fails, under a key made when first needed.
     */
    static Seal fromEnvironment() {
      String state = System.getenv("STATE_DIRECTORY");
      if (state == null || state.isEmpty()) {
        return new Seal();
      }
      Path file = Path.of(state.split(":")[0], KEY_FILE);
      try {
        return new Seal(keyIn(file));
      } catch (IOException | RuntimeException e) {
        LOG.warn("cannot use {} for list cursors ({}); cursors will not outlive this broker", file, e.toString());
        return new Seal();
      }
    }

    private static byte[] keyIn(Path file) throws IOException {
      try {
        return kept(file);
      } catch (NoSuchFileException absent) {
        // the first start with this state directory: made below
      }
      try {
        byte[] fresh = new byte[KEY_BYTES];
        Random.INSTANCE.nextBytes(fresh);
        // Made whole under a temporary name, then linked in: a crash never leaves half a key.
        Path tmp = Files.createTempFile(file.getParent(), ".cursor-key", ".tmp",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
          Files.write(tmp, fresh);
          Files.createLink(file, tmp);
          return fresh;
        } finally {
          Files.deleteIfExists(tmp);
        }
      } catch (FileAlreadyExistsException taken) {
        return kept(file); // another broker made it meanwhile
      }
    }

    private static byte[] kept(Path file) throws IOException {
      byte[] kept = Files.readAllBytes(file);
      if (kept.length != KEY_BYTES) {
        throw new IOException("it holds " + kept.length + " bytes, not " + KEY_BYTES);
      }
      return kept;
    }

    /** The cursor as the client gets it: 70 characters of base64url. */
    String seal(ListCursor cursor) {
      byte[] nonce = new byte[NONCE_BYTES];
      Random.INSTANCE.nextBytes(nonce);
      byte[] plain = ByteBuffer.allocate(PLAIN_BYTES).putLong(cursor.device).putLong(cursor.inode)
          .putLong(cursor.offset).array();
      try {
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
        c.init(Cipher.ENCRYPT_MODE, key(), new GCMParameterSpec(TAG_BITS, nonce));
        byte[] sealed = c.doFinal(plain);
        return TEXT.encodeToString(ByteBuffer.allocate(NONCE_BYTES + sealed.length).put(nonce).put(sealed).array());
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("sealing a cursor failed", e);
      }
    }

    /** The cursor a client sent, or null if this broker did not make it (forged, altered, or another run's). */
    ListCursor open(String text) {
      byte[] bytes;
      try {
        bytes = FROM_TEXT.decode(text);
      } catch (IllegalArgumentException e) {
        return null;
      }
      if (bytes.length != NONCE_BYTES + PLAIN_BYTES + TAG_BITS / 8) {
        return null;
      }
      try {
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
        c.init(Cipher.DECRYPT_MODE, key(), new GCMParameterSpec(TAG_BITS, bytes, 0, NONCE_BYTES));
        ByteBuffer plain = ByteBuffer.wrap(c.doFinal(bytes, NONCE_BYTES, bytes.length - NONCE_BYTES));
        return new ListCursor(plain.getLong(), plain.getLong(), plain.getLong());
      } catch (GeneralSecurityException e) {
        return null; // the tag does not verify
      }
    }
  }
}
