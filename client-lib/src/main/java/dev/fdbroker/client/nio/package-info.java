/**
 * A read-only java.nio {@link java.nio.file.FileSystem} over fdbroker: ordinary code that takes a
 * {@link java.nio.file.Path} reads the files a broker lets this process see.
 *
 * <pre>{@code
 * FileSystem fs = client.fileSystem();    // or FileSystems.newFileSystem(URI.create("fdbroker:/run/fdbroker/fdbroker.sock"), Map.of())
 * byte[] logo = Files.readAllBytes(fs.getPath("/srv/assets/logo.png"));
 * try (FileChannel ch = FileChannel.open(fs.getPath("/srv/assets/big.bin"))) {
 *   MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
 * }
 * try (Stream<Path> files = Files.walk(fs.getPath("/srv/assets"))) {
 *   files.filter(Files::isRegularFile).forEach(...);
 * }
 * try (FileSystem zip = FileSystems.newFileSystem(fs.getPath("/srv/assets/fonts.zip"))) {
 *   byte[] font = Files.readAllBytes(zip.getPath("/fonts/a.ttf"));
 * }
 * }</pre>
 *
 * <h2>What each call asks the broker</h2>
 *
 * <ul>
 *   <li>Opening ({@code Files.newInputStream}, {@code newByteChannel}, {@code FileChannel.open},
 *       {@code readAllBytes}, {@code readString}, {@code lines}...): an {@code open}. The channel is
 *       a real {@link java.nio.channels.FileChannel} over the descriptor the broker passed, so
 *       positional reads, {@code size()}, {@code transferTo} and {@code map(READ_ONLY, ...)} work.
 *   <li>Attributes ({@code Files.size}, {@code getLastModifiedTime}, {@code exists}, {@code
 *       isDirectory}, {@code readAttributes}, {@code checkAccess}, {@code toRealPath}...): a {@code
 *       stat}, unless the path came from a directory listing less than a second ago: then the
 *       attributes the listing gave answer. So {@code Files.walk} and {@code Files.find} over N
 *       files cost about one {@code list} request per page of each directory, not N {@code stat}s.
 *   <li>Listing ({@code newDirectoryStream}, {@code Files.list}, {@code walk}, {@code find}): a
 *       {@code list} per page, fetched as the iteration reaches it; nothing is held open between
 *       pages. Only the entries the broker lets this process see appear.
 * </ul>
 *
 * <h2>Paths</h2>
 *
 * Paths have the syntax and semantics of Linux paths (java.nio's own UnixPath, against which they
 * are tested): {@code /} separates names, a path is absolute when it starts with one, {@code
 * normalize}, {@code resolve}, {@code relativize} and the rest behave as they do for {@code
 * Path.of}. The working directory is the root: a relative path is made absolute against {@code /}.
 * What the broker is asked about is always the absolute, normalized path (the broker takes only
 * canonical paths), and exceptions name that path. {@code ..} is resolved by the text, as {@code
 * normalize} does: the broker never follows a symbolic link, so the only paths this differs on
 * from the kernel's resolution are ones the broker would refuse. A path's {@link
 * java.nio.file.Path#toUri() URI} is {@code fdbroker:SOCKET!PATH}.
 *
 * <h2>Symbolic links</h2>
 *
 * The broker never follows a symbolic link, so neither does this file system, whatever {@link
 * java.nio.file.LinkOption} is given: a link is described as itself ({@code
 * Files.isSymbolicLink} is true; {@code isDirectory} and {@code isRegularFile} are false, even
 * for a link to a directory or a file; {@code exists} is true). Opening or listing a link, or any
 * path through one, fails with a {@link java.nio.file.FileSystemException} ({@link
 * dev.fdbroker.client.BrokerFileException} with code {@code symlink}) that carries the broker's
 * message. {@code readSymbolicLink} cannot say where a link points.
 *
 * <h2>Errors</h2>
 *
 * <ul>
 *   <li>{@code denied}: {@link java.nio.file.AccessDeniedException}, naming the path.
 *   <li>{@code not_found}: {@link java.nio.file.NoSuchFileException}.
 *   <li>{@code not_directory} (listing a file): {@link java.nio.file.NotDirectoryException}.
 *   <li>{@code symlink}, {@code not_regular} (opening a directory or a FIFO), {@code busy} for one
 *       file, {@code io_error}: {@link dev.fdbroker.client.BrokerFileException}, a {@link
 *       java.nio.file.FileSystemException} carrying the code and the broker's message.
 *   <li>The broker unreachable, busy or restarting past the client's request timeout: the
 *       client's own {@link java.io.IOException}s ({@link
 *       dev.fdbroker.client.BrokerUnavailableException} and the like), after the client's retries.
 *   <li>Any write ({@code newOutputStream}, the {@code WRITE}, {@code APPEND} or {@code
 *       DELETE_ON_CLOSE} options, {@code createDirectory}, {@code delete}, {@code copy} or {@code
 *       move} into it, {@code setAttribute}, {@code setLastModifiedTime}...): {@link
 *       java.nio.file.ReadOnlyFileSystemException}, before anything is asked. {@code
 *       checkAccess(WRITE)} and {@code Files.isWritable} say no ({@link
 *       java.nio.file.AccessDeniedException}); {@code CREATE}, {@code CREATE_NEW} and {@code
 *       TRUNCATE_EXISTING} are ignored when opening for reading, as java.nio specifies.
 *   <li>Anything on a closed file system: {@link java.nio.file.ClosedFileSystemException}.
 * </ul>
 *
 * <h2>Not supported</h2>
 *
 * Watch services, user and group lookups, attribute views other than "basic" (the permission bits
 * are in {@link dev.fdbroker.client.nio.BrokerFileAttributes#mode()}), file keys and so identity
 * of hard links, and file store space (all 0).
 */
package dev.fdbroker.client.nio;
