"""A client of the fdbroker daemon: ask it for files, get read-only descriptors.

Standard library only, Python 3.9+. One module: copy it next to your code, or install the
fdbroker package, which puts it on the system python3's path (/usr/lib/python3/dist-packages).

    import os, stat
    import fdbroker

    with fdbroker.Client() as broker:                  # /run/fdbroker/fdbroker.sock
        with broker.open("/srv/assets/logo.png") as f: # binary, read-only
            head = f.read(16)
        fd = broker.open_fd("/etc/app/config.json")    # a raw descriptor: yours to close
        os.close(fd)
        for path, r in zip(paths, broker.open_all(paths)):
            if isinstance(r, Exception):               # this path was refused
                print(path, r)
            else:
                with r:
                    data = r.read()
        st = broker.stat("/srv/assets")                # no descriptor: type, size, mtime_ns, mode
        if stat.S_ISDIR(st.st_mode):                   # also read as os.stat_result
            for entry in broker.list("/srv/assets"):   # lazily, page by page, as os.scandir
                if entry.is_file():
                    print(entry.path, entry.size, entry.mtime_ns, oct(entry.mode))
        for dirpath, dirnames, filenames in broker.walk("/srv/assets"):
            pass                                       # as os.walk

stat and list show only what the policy lets the caller see (docs/protocol.md, "What stat and
list show"); a symbolic link is described as itself, never followed. They came after the first
release of protocol 1: against a broker whose ping does not list them, they raise BrokerError with
code ``unsupported`` without sending anything.

Refusals are the exceptions Python's own open() raises where there is one: PermissionError when
the policy denies a path (``denied``), FileNotFoundError when it does not exist (``not_found``),
NotADirectoryError when list is asked of something else (``not_directory``). Every other refusal
is a BrokerError. All of them are OSError and carry ``.code`` (the wire error code) and ``.path``.
A broker that cannot be reached gives BrokerUnavailableError, a reply that breaks the protocol
ProtocolError (both BrokerError, with code None), and one that does not come in time TimeoutError.

A Client is thread-safe and meant to be shared. It keeps a small pool of connections, each used
by one thread at a time. As client-lib (the Java client) does, a request is sent again while it
may not have been served: at once when a pooled connection turns out to have been closed by the
broker; after a pause (10 ms growing to 1 s, with jitter) when the broker cannot be reached (a
restart), when the connection breaks before the reply, or when the whole request is answered
``busy``; until the client's timeout has passed. A listing's pages are requests of their own,
each retried and timed so; no connection is held between them. Descriptors that came with a reply
that is not handed to the caller are closed, whatever went wrong.

Wire protocol: docs/protocol.md in the fdbroker sources.
"""

import array
import errno
import io
import json
import os
import random
import socket as _socket
import stat as _stat
import struct
import threading
import time

__all__ = [
    "Client",
    "BrokerError",
    "BrokerUnavailableError",
    "ProtocolError",
    "BrokerInfo",
    "StatResult",
    "DirEntry",
    "DEFAULT_SOCKET",
]

DEFAULT_SOCKET = "/run/fdbroker/fdbroker.sock"

#: The most paths one request may name under protocol v1; the broker may be configured lower.
PROTOCOL_MAX_PATHS = 64
#: The most bytes a frame's JSON may have, either way.
MAX_FRAME = 65536

_HEADER = struct.Struct(">I")
_INT_SIZE = array.array("i").itemsize
# Room for the descriptors of the largest reply the protocol allows. A receiver with less loses
# them: the kernel closes what does not fit and sets MSG_CTRUNC.
_CONTROL_BYTES = _socket.CMSG_SPACE(PROTOCOL_MAX_PATHS * _INT_SIZE)
_CONNECT_TIMEOUT = 5.0
_CODES = frozenset(["denied", "not_found", "symlink", "not_regular", "not_directory", "bad_request",
                    "too_large", "busy", "io_error"])
#: What a broker serves when its ping does not say: the operations of protocol 1's first release.
FIRST_OPS = ("open", "ping")
# The codes of a request refused whole, after which the connection is not trusted (the broker
# may hang up). A list refused with any other code, an unknown one included (read as io_error), is
# the directory's answer: denied, not_found, symlink, not_directory, io_error.
_REQUEST_CODES = frozenset(["bad_request", "too_large", "busy"])
#: The longest list cursor, in characters (printable ASCII but space).
MAX_CURSOR = 128
# Errors of connect() that a restarting broker causes: no socket file yet, nobody listening yet,
# or a backlog that is full for a moment.
_RETRIED_CONNECT_ERRNOS = frozenset(
    [errno.ENOENT, errno.ECONNREFUSED, errno.EAGAIN, errno.ECONNRESET, errno.EPIPE, errno.ETIMEDOUT])


class BrokerError(OSError):
    """The broker refused a file or a request, or could not be used.

    ``code`` is the protocol's error code (``symlink``, ``not_regular``, ``bad_request``,
    ``too_large``, ``busy``, ``io_error``; an unknown code is reported as ``io_error``);
    ``unsupported`` for an operation the broker does not serve (it is older than this client),
    which is never sent; or None for a failure that is not the broker's answer (see the
    subclasses). ``path`` is the refused path, or None when the whole request was refused.

    A subclass of OSError, so that ``except OSError`` around file handling catches it as it
    catches the errors of Python's open().
    """

    def __init__(self, message, code=None, path=None):
        super().__init__(message)
        # Not .filename: OSError's str() would then show errno and strerror, which are unset.
        self.code = code
        self.path = path


class BrokerUnavailableError(BrokerError):
    """The broker could not be reached, or went away mid-request, until the timeout passed."""


class ProtocolError(BrokerError):
    """A reply that breaks the protocol. Not retried: asking again would not mend it."""


def _file_error(path, code, message):
    """The exception for one refused path, as open() would raise it where Python has one."""
    if code not in _CODES:
        message = "unknown error code %r: %s" % (code, message)
        code = "io_error"
    text = "%s: %s" % (code, message)
    if code == "denied":
        e = PermissionError(errno.EACCES, text, path)
    elif code == "not_found":
        e = FileNotFoundError(errno.ENOENT, text, path)
    elif code == "not_directory":
        e = NotADirectoryError(errno.ENOTDIR, text, path)
    else:
        return BrokerError("%s: %s" % (path, text), code, path)
    e.code = code
    e.path = path
    return e


def _request_error(reply, note=""):
    code = reply.get("error")
    message = reply.get("message")
    if code not in _CODES:
        message = "unknown error code %r: %s" % (code, message)
        code = "io_error"
    return BrokerError("fdbroker refused the request: %s: %s%s" % (code, message, note), code)


def _close_fds(fds):
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


class _Attempts:
    """The tries of one request: pauses with exponential back-off and jitter, within a deadline.

    The first pause is 10 to 20 ms, each next one up to twice as long, at most 0.5 to 1 s: a
    restarting broker is usually back within a second, and one that stays away should not be asked
    hundreds of times a second by every worker. Each pause falls somewhere in the upper half of its
    ceiling so that the workers of a restarting broker do not all come back in the same
    millisecond. No pause is made when less than 100 ms would be left for the try after it: that
    try would only turn the last real error into a timeout. (client-lib's Backoff, the same way.)
    """

    FIRST_CEILING = 0.020
    MAX_CEILING = 1.0
    MIN_TRY = 0.100

    def __init__(self, timeout, clock=time.monotonic, sleep=time.sleep, jitter=random.random):
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._start = clock()
        self._deadline = self._start + timeout
        self._ceiling = self.FIRST_CEILING
        self.count = 1

    @property
    def first(self):
        return self.count == 1

    def remaining(self):
        """Seconds until the deadline; never 0, which a socket would take as non-blocking."""
        return max(0.001, self._deadline - self._clock())

    def again(self):
        """Counts a try made at once, without a pause."""
        self.count += 1

    def pause(self):
        """Waits before the next try; or returns False, without waiting, if too little is left."""
        left = self._deadline - self.MIN_TRY - self._clock()
        if left <= 0:
            return False
        half = self._ceiling / 2
        self._ceiling = min(self.MAX_CEILING, self._ceiling * 2)
        self._sleep(min(left, half + self._jitter() * half))
        self.count += 1
        return True

    def note(self):
        """For messages: " (3 tries in 1021 ms)", or nothing after one try."""
        if self.first:
            return ""
        return " (%d tries in %d ms)" % (self.count, (self._clock() - self._start) * 1000)


class _Broken(Exception):
    """The connection failed before a whole reply came: the broker went away, or was going."""

    def __init__(self, cause):
        super().__init__(str(cause))
        self.cause = cause


class _Timeout(Exception):
    """No whole reply within the time given."""


class _Connection:
    """One connection to the broker, used by one thread at a time.

    After any failed exchange the connection must be closed: the stream may be out of step.
    """

    def __init__(self, sock):
        self._sock = sock
        self._next_id = 1

    @classmethod
    def connect(cls, path, timeout):
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            sock.settimeout(timeout)
            sock.connect(path)
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    def close(self):
        self._sock.close()

    def exchange(self, request, timeout):
        """Sends the request (a dict without id) and returns (reply, descriptors).

        The reply has been checked against the request (_check_reply); on success the descriptors
        are the caller's, one per granted file in reply order. On any failure every descriptor
        received is closed before the exception leaves. Raises _Broken, _Timeout or ProtocolError.
        """
        request = dict(request, id=self._next_id)
        self._next_id += 1
        data = _encode(request)
        fds = []
        try:
            try:
                self._sock.settimeout(timeout)
                self._sock.sendall(data, _socket.MSG_NOSIGNAL)
                # Descriptors arrive with the first bytes of the reply, which may be the header.
                (size,) = _HEADER.unpack(self._recv_exactly(_HEADER.size, fds))
                if not 1 <= size <= MAX_FRAME:
                    raise ProtocolError("the reply's frame header announces %d bytes" % size)
                body = self._recv_exactly(size, fds)
            except _socket.timeout:
                raise _Timeout()
            except (ProtocolError, _Broken):
                raise
            except OSError as e:
                raise _Broken(e)
            reply = _decode(body)
            _check_reply(request, reply, len(fds))
            return reply, fds
        except BaseException:
            _close_fds(fds)
            raise

    def _recv_exactly(self, n, fds):
        """Reads n bytes, adding the descriptors that come with them to fds as they come."""
        buf = bytearray()
        while len(buf) < n:
            data, ancdata, flags, _ = self._sock.recvmsg(
                n - len(buf), _CONTROL_BYTES, _socket.MSG_CMSG_CLOEXEC)
            fds.extend(_received_fds(ancdata))  # first, so that they are closed on any error
            if flags & _socket.MSG_CTRUNC:
                raise ProtocolError(
                    "descriptors of the reply were lost (MSG_CTRUNC): it carried more than %d, or "
                    "this process is at its limit of open files" % PROTOCOL_MAX_PATHS)
            if not data:
                raise _Broken(EOFError("fdbroker closed the connection without replying"))
            buf += data
        return bytes(buf)


def _received_fds(ancdata):
    fds = []
    for level, kind, data in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            a = array.array("i")
            # A control message cut short (MSG_CTRUNC) may end in part of a descriptor number.
            a.frombytes(data[: len(data) - len(data) % _INT_SIZE])
            fds.extend(a)
    return fds


def _encode(request):
    body = json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(body) > MAX_FRAME:
        # The broker would answer too_large and hang up; no need to send it.
        raise BrokerError("the request is %d bytes of JSON, more than a frame may hold (%d)"
                          % (len(body), MAX_FRAME), "too_large")
    return _HEADER.pack(len(body)) + body


def _decode(body):
    try:
        reply = json.loads(body.decode("utf-8"))
    except ValueError as e:
        raise ProtocolError("the reply is not UTF-8 JSON: %s" % e)
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        raise ProtocolError("the reply is not an object with a boolean \"ok\": %.200r" % (reply,))
    return reply


def _check_reply(request, reply, fd_count):
    """Raises ProtocolError unless the reply answers the request and carried the right descriptors."""
    rid = reply.get("id")
    # A broker that could not read a request answers with a null id. (type(), since True == 1.)
    if not (type(rid) is int and rid == request["id"]) and not (rid is None and not reply["ok"]):
        raise ProtocolError("reply id %r does not match request id %r" % (rid, request["id"]))
    if not reply["ok"]:
        if not isinstance(reply.get("error"), str):
            raise ProtocolError("a failed reply without an error code: %.200r" % (reply,))
        expected = 0
    elif request["op"] == "ping":
        if not (_is_int(reply.get("max_paths")) and reply["max_paths"] >= 1):
            raise ProtocolError("a ping reply without max_paths: %.200r" % (reply,))
        ops = reply.get("ops", FIRST_OPS)
        if not isinstance(ops, (list, tuple)) or not all(isinstance(op, str) for op in ops):
            raise ProtocolError("a ping reply whose \"ops\" is not a list of names: %.200r" % (ops,))
        expected = 0
    elif request["op"] == "stat":
        _check_stats(request["paths"], reply)
        expected = 0
    elif request["op"] == "list":
        _check_listing(request, reply)
        expected = 0
    else:
        expected = _check_files(request["paths"], reply)
    if fd_count != expected:
        raise ProtocolError("the reply grants %d files but carried %d descriptors"
                            % (expected, fd_count))


def _check_files(paths, reply):
    """Checks an open reply's entries; returns how many files it grants."""
    files = reply.get("files")
    if not isinstance(files, list) or len(files) != len(paths):
        raise ProtocolError("asked for %d paths, got %r" % (len(paths), files))
    granted = 0
    for path, entry in zip(paths, files):
        if not isinstance(entry, dict) or entry.get("path") != path:
            raise ProtocolError("entry %r does not answer path %r" % (entry, path))
        if entry.get("ok") is True:
            if entry.get("fd") != granted or type(entry.get("fd")) is not int:
                raise ProtocolError("granted file %d names descriptor %r" % (granted, entry.get("fd")))
            granted += 1
        elif entry.get("ok") is not False or not isinstance(entry.get("error"), str):
            raise ProtocolError("entry for %r is neither granted nor refused" % path)
    return granted


def _check_stats(paths, reply):
    """Checks a stat reply's entries: one per path, in order, each described or refused."""
    files = reply.get("files")
    if not isinstance(files, list) or len(files) != len(paths):
        raise ProtocolError("asked to stat %d paths, got %.200r" % (len(paths), files))
    for path, entry in zip(paths, files):
        if not isinstance(entry, dict) or entry.get("path") != path:
            raise ProtocolError("entry %.200r does not answer path %r" % (entry, path))
        if entry.get("ok") is True:
            _check_attributes(entry, "the stat of %r" % path)
        elif entry.get("ok") is not False or not isinstance(entry.get("error"), str):
            raise ProtocolError("entry for %r is neither described nor refused" % path)


def _check_listing(request, reply):
    """Checks a page of a listing: its entries, each one name in the directory, and its cursor."""
    path = request["path"]
    entries = reply.get("entries")
    if not isinstance(entries, list):
        raise ProtocolError("a listing of %r without \"entries\": %.200r" % (path, reply))
    for entry in entries:
        if not isinstance(entry, dict):
            raise ProtocolError("an entry of %r is not an object: %.200r" % (path, entry))
        name = entry.get("name")
        problem = _name_problem(name)
        if problem:
            # The name is joined to the directory's path: it must be one component of it.
            raise ProtocolError("an entry of %r %s: %.200r" % (path, problem, name))
        _check_attributes(entry, "entry %r of %r" % (name, path))
    if "cursor" not in reply:
        raise ProtocolError("a listing of %r without \"cursor\"" % path)
    cursor = reply["cursor"]
    if cursor is None:
        return
    if not (isinstance(cursor, str) and 1 <= len(cursor) <= MAX_CURSOR
            and all("!" <= c <= "~" for c in cursor)):
        raise ProtocolError("a listing of %r with a cursor that is not 1 to %d printable ASCII "
                            "characters: %.200r" % (path, MAX_CURSOR, cursor))
    if cursor == request["cursor"]:
        raise ProtocolError("the listing of %r did not move on: the broker gave back the cursor it "
                            "was sent, %r" % (path, cursor))


def _name_problem(name):
    """Why name cannot be a directory entry's name, or None if it can."""
    if not isinstance(name, str):
        return "has no name"
    if name in ("", ".", ".."):
        return "is named %r" % name
    if "/" in name or "\0" in name:
        return "has a name with '/' or NUL"
    return None


def _check_attributes(entry, what):
    """Checks the type, size, mtime_ns and mode of a stat result or a directory entry.

    A type this client does not know reads as "other"; size comes with files (with anything else
    it is checked, then left out: a directory's size is the filesystem's business); mtime_ns and
    mode come always.
    """
    if not isinstance(entry.get("type"), str):
        raise ProtocolError("%s has no \"type\": %.200r" % (what, entry))
    if "size" in entry or entry["type"] == "file":
        if not (_is_int(entry.get("size")) and entry["size"] >= 0):
            raise ProtocolError("%s has no valid \"size\": %.200r" % (what, entry))
    if not _is_int(entry.get("mtime_ns")):
        raise ProtocolError("%s has no valid \"mtime_ns\": %.200r" % (what, entry))
    if not (_is_int(entry.get("mode")) and 0 <= entry["mode"] <= 0o7777):
        raise ProtocolError("%s has no valid \"mode\" (permission bits): %.200r" % (what, entry))


def _is_int(value):
    """A JSON integer: not a float, and not a boolean (True == 1 in Python)."""
    return type(value) is int


def _path_arg(path):
    """A path as the protocol carries it: a str that is valid Unicode (the broker checks the rest)."""
    path = os.fspath(path)
    if isinstance(path, bytes):
        try:
            return path.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("path is not UTF-8, which the protocol requires: %r" % path)
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("path is not valid Unicode, which the protocol requires: %r" % path)
    return path


def _as_file(fd, path):
    """A buffered binary reader that owns the descriptor, named after the requested path."""
    raw = io.FileIO(fd, "rb", closefd=True)
    raw.name = path
    return io.BufferedReader(raw)


_TYPES = ("file", "dir", "symlink", "other")
# The file type bits of st_mode for each type; "other" (a FIFO, socket or device: the protocol does
# not say which) has none, so that no stat.S_IS* test is true of it.
_TYPE_BITS = {"file": _stat.S_IFREG, "dir": _stat.S_IFDIR, "symlink": _stat.S_IFLNK, "other": 0}


class _Attributes:
    """What the broker says of a file: immutable, compared and hashed by value."""

    __slots__ = ()
    _fields = ()

    def _set(self, values):
        for name, value in zip(self._fields, values):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError("%s is immutable" % type(self).__name__)

    def __delattr__(self, name):
        raise AttributeError("%s is immutable" % type(self).__name__)

    def _values(self):
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self):
        return hash(self._values())

    def __repr__(self):
        return "fdbroker.%s(%s)" % (type(self).__name__, ", ".join(
            "%s=%s" % (name, oct(value) if name == "mode" else repr(value))
            for name, value in zip(self._fields, self._values())))


class StatResult(_Attributes):
    """What the broker says of one path (``lstat``: a symbolic link is described, not followed).

    ``path``: the path asked for. ``type``: "file", "dir", "symlink" or "other" (a FIFO, socket or
    device; also any type this client does not know). ``size``: bytes, for a file only (else None).
    ``mtime_ns``: last modification, nanoseconds since the epoch. ``mode``: the permission bits
    (``st_mode & 0o7777``).

    Also read as os.stat_result is, for code written against os.stat: ``st_mode`` (the type's
    bits, so that ``stat.S_ISDIR(r.st_mode)`` works, with the permission bits; "other" has no type
    bits), ``st_size`` (0 when the broker gives none), ``st_mtime_ns`` and ``st_mtime`` (seconds,
    a float). Immutable; equal to another with the same fields.
    """

    __slots__ = ("path", "type", "size", "mtime_ns", "mode")
    _fields = __slots__

    def __init__(self, path, type, size, mtime_ns, mode):
        self._set((path, type, size, mtime_ns, mode))

    @property
    def st_mode(self):
        return _TYPE_BITS.get(self.type, 0) | self.mode

    @property
    def st_size(self):
        return 0 if self.size is None else self.size

    @property
    def st_mtime_ns(self):
        return self.mtime_ns

    @property
    def st_mtime(self):
        return self.mtime_ns / 1e9


class DirEntry(_Attributes):
    """One entry of a directory listing, read as os.scandir's os.DirEntry is.

    ``name``: its name in the directory. ``path``: the directory's path joined with it (what
    open() and stat() take; also its os.fspath). ``type``, ``size``, ``mtime_ns``, ``mode``: as
    StatResult's, as the listing gave them; ``stat()`` makes the StatResult of them without asking
    the broker again. ``is_file()``, ``is_dir()``, ``is_symlink()`` tell the type: the broker never
    follows a symbolic link, so ``is_dir()`` and ``is_file()`` are False for a link whatever
    ``follow_symlinks`` says (os.DirEntry would follow it). Immutable.
    """

    __slots__ = ("name", "path", "type", "size", "mtime_ns", "mode")
    _fields = __slots__

    def __init__(self, name, path, type, size, mtime_ns, mode):
        self._set((name, path, type, size, mtime_ns, mode))

    def is_file(self, *, follow_symlinks=True):
        return self.type == "file"

    def is_dir(self, *, follow_symlinks=True):
        return self.type == "dir"

    def is_symlink(self):
        return self.type == "symlink"

    def stat(self, *, follow_symlinks=True):
        return StatResult(self.path, self.type, self.size, self.mtime_ns, self.mode)

    def __fspath__(self):
        return self.path


def _join(directory, name):
    return directory.rstrip("/") + "/" + name  # a canonical path ends in "/" only if it is "/"


def _dir_entry(directory, entry):
    """The DirEntry of a checked (_check_listing) entry of directory."""
    r = _stat_result(_join(directory, entry["name"]), entry)
    return DirEntry(entry["name"], r.path, r.type, r.size, r.mtime_ns, r.mode)


def _stat_result(path, entry):
    """The StatResult of a checked (_check_attributes) stat result or directory entry."""
    kind = entry["type"] if entry["type"] in _TYPES else "other"
    return StatResult(path, kind, entry.get("size") if kind == "file" else None,
                      entry["mtime_ns"], entry["mode"])


class BrokerInfo(dict):
    """What a ping tells: {"version": str, "protocol": int, "max_paths": int, "ops": [str]}.

    A dict (as ping() returned before "ops" came), whose keys are also read as attributes. ``ops``
    names the operations the broker serves; a broker that does not say serves ["open", "ping"].
    """

    __slots__ = ()

    def __init__(self, reply):
        super().__init__(version=reply.get("version"), protocol=reply.get("protocol"),
                         max_paths=reply["max_paths"], ops=list(reply.get("ops", FIRST_OPS)))

    version = property(lambda self: self["version"], doc="the broker's version")
    protocol = property(lambda self: self["protocol"], doc="the protocol version it speaks")
    max_paths = property(lambda self: self["max_paths"], doc="the most paths one request may name")
    ops = property(lambda self: self["ops"], doc="the operations it serves")


class Client:
    """A client of the broker listening on ``socket``.

    ``timeout`` (seconds) bounds each call, retries included, and the wait for a free
    connection when ``max_connections`` calls are already in progress. Connecting happens on first
    use. Files and descriptors handed out stay open after the client is closed.
    """

    def __init__(self, socket=DEFAULT_SOCKET, timeout=30.0, max_connections=4):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.socket = os.fspath(socket)
        self.timeout = float(timeout)
        self.max_connections = max_connections
        self._permits = threading.BoundedSemaphore(max_connections)
        self._lock = threading.Lock()
        self._idle = []
        self._closed = False
        self._chunk = 0  # paths per request: the broker's limit once a ping has told it
        self._ops = None  # the operations the broker serves, once a ping has told them

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Closes the pooled connections. Files already opened stay open."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def ping(self):
        """Asks the broker who it is: a BrokerInfo, the dict {"version": str, "protocol": int,
        "max_paths": int, "ops": [str]} whose keys are also attributes (``info.ops``)."""
        reply, _ = self._call({"op": "ping"})
        info = BrokerInfo(reply)
        self._chunk = min(info.max_paths, PROTOCOL_MAX_PATHS)
        self._ops = frozenset(info.ops)
        return info

    def _require(self, op):
        """Raises BrokerError "unsupported", without sending it, if the broker does not serve op.

        Asks with a ping the first time; and again while the answer lacks op, in case the broker
        has been upgraded since, so that a client outlives a broker's upgrade.
        """
        ops = self._ops
        if ops is None or op not in ops:
            ops = self.ping().ops
        if op not in ops:
            raise BrokerError("fdbroker at %s does not serve %s (it serves %s): it is older than this"
                              " client" % (self.socket, op, ", ".join(ops) or "nothing"), "unsupported")

    def open(self, path):
        """Opens one file through the broker: a binary read-only file object (close it)."""
        path = _path_arg(path)
        fd = self.open_fd(path)
        try:
            return _as_file(fd, path)
        except BaseException:
            os.close(fd)
            raise

    def open_fd(self, path):
        """Opens one file through the broker: its descriptor, non-inheritable, yours to close."""
        (result,) = self._open_chunk([_path_arg(path)])
        if isinstance(result, Exception):
            raise result
        return result

    def open_all(self, paths, strict=False):
        """Opens several files: a list with one result per path, in order.

        As client-lib's openAll does, each path gets its own result and one refusal does not
        affect the others: a result is an open binary file object, or the exception open() would
        have raised for that path (PermissionError, FileNotFoundError, BrokerError), returned,
        not raised. With ``strict=True``, the first refusal is raised instead, after every file
        of the batch is closed.

        The paths go in as few requests as the broker's limit allows (learnt with a ping).
        Failures of a whole request (broker unreachable, busy past the timeout, too_large) are
        raised, after closing every descriptor already received: nothing stays open then.
        """
        if isinstance(paths, (str, bytes)):
            raise TypeError("open_all takes a list of paths, not one path")
        paths = [_path_arg(p) for p in paths]
        if len(paths) > 1 and not self._chunk:
            self.ping()
        step = max(1, self._chunk)
        results = []
        try:
            for start in range(0, len(paths), step):
                results.extend(self._open_chunk(paths[start:start + step]))
            for i, path in enumerate(paths):
                if isinstance(results[i], int):
                    results[i] = _as_file(results[i], path)
            refused = [r for r in results if isinstance(r, Exception)]
            if strict and refused:
                raise refused[0]
            return results
        except BaseException:
            _close_results(results)
            raise

    def stat(self, path):
        """Describes one path: a StatResult; or raises what open_fd would for a refusal.

        A symbolic link is described as itself, never followed. A directory is described if the
        policy allows it, or if some allowed path lies beneath it (docs/protocol.md, "What stat
        and list show"). Nothing is opened.
        """
        (result,) = self.stat_all([path])
        if isinstance(result, Exception):
            raise result
        return result

    def stat_all(self, paths, strict=False):
        """Describes several paths: a list with one result per path, in order.

        As open_all: each result is a StatResult, or the exception stat() would have raised for
        that path, returned, not raised (``strict=True`` raises the first); the paths go in as
        few requests as the broker's limit allows; failures of a whole request are raised.
        """
        if isinstance(paths, (str, bytes)):
            raise TypeError("stat_all takes a list of paths, not one path")
        paths = [_path_arg(p) for p in paths]
        if not paths:
            return []
        self._require("stat")  # which has pinged: the broker's limit is known
        step = max(1, self._chunk)
        results = []
        for start in range(0, len(paths), step):
            reply, _ = self._call({"op": "stat", "paths": paths[start:start + step]})
            for entry in reply["files"]:
                if entry["ok"]:
                    results.append(_stat_result(entry["path"], entry))
                else:
                    results.append(_file_error(entry["path"], entry["error"], entry.get("message")))
        if strict:
            for r in results:
                if isinstance(r, Exception):
                    raise r
        return results

    def list(self, path):
        """Lists a directory: an iterator of DirEntry, in the directory's own order (not sorted),
        without "." and "..".

        Only the entries the caller could stat() are listed: those the policy allows, or
        directories beneath which something is allowed (docs/protocol.md, "What stat and list
        show"). The first page is asked for at once, so that a directory that cannot be listed
        raises here, as os.scandir does: PermissionError (denied), FileNotFoundError (not_found),
        NotADirectoryError (not_directory), or BrokerError (symlink: a component of the path, the
        last included, is a symbolic link; io_error). Further pages are asked for as the iterator
        reaches them, each a request of its own (retried and timed as any), holding no connection
        between pages; a page that fails raises from the iteration. A directory changed while it
        is listed may show an entry twice or not at all, as os.scandir may.
        """
        path = _path_arg(path)
        self._require("list")
        entries, cursor = self._list_page(path, None)
        return self._pages(path, entries, cursor)

    def _pages(self, path, entries, cursor):
        while True:
            for entry in entries:
                yield entry
            if cursor is None:  # only a null cursor ends a listing: a page may be empty
                return
            entries, cursor = self._list_page(path, cursor)

    def _list_page(self, path, cursor):
        """One page of a listing: (entries, the cursor of the next page or None)."""
        reply, _ = self._call({"op": "list", "path": path, "cursor": cursor}, answers=True)
        if not reply["ok"]:
            raise _file_error(path, reply["error"], reply.get("message"))
        return [_dir_entry(path, e) for e in reply["entries"]], reply["cursor"]

    def walk(self, top, topdown=True, onerror=None):
        """Walks a tree as os.walk does: (dirpath, dirnames, filenames) for each directory.

        With ``topdown`` (the default) a directory comes before those beneath it, and removing
        names from its ``dirnames`` keeps the walk out of them. A directory that cannot be listed
        is passed to ``onerror`` (if given) and left out, as os.walk does; the broker's own
        failures (unavailable, timeout, a malformed reply, busy past the timeout) are raised. A
        symbolic link is never followed: it is among the filenames, with FIFOs, sockets and
        devices. Only what the caller could stat() is walked (see list()).
        """
        top = _path_arg(top)
        stack = [top]
        while stack:
            item = stack.pop()
            if isinstance(item, tuple):  # bottom-up: a directory after all of those beneath it
                yield item
                continue
            try:
                entries = [entry for entry in self.list(item)]
            except OSError as e:
                if getattr(e, "path", None) is None:  # not the directory's answer: list's own
                    raise
                if onerror is not None:
                    onerror(e)
                continue
            dirnames = [e.name for e in entries if e.is_dir()]
            filenames = [e.name for e in entries if not e.is_dir()]
            if topdown:
                yield item, dirnames, filenames
            else:
                stack.append((item, dirnames, filenames))
            stack.extend(_join(item, name) for name in reversed(dirnames))

    def _open_chunk(self, paths):
        """One open request: per path, a descriptor or the exception for its refusal."""
        reply, fds = self._call({"op": "open", "paths": paths})
        results = []
        for entry in reply["files"]:
            if entry["ok"]:
                results.append(fds[entry["fd"]])
            else:
                results.append(_file_error(entry["path"], entry["error"], entry.get("message")))
        return results

    def _call(self, request, answers=False):
        """One request, tried until it is answered or the timeout has passed.

        Returns (reply, descriptors) for a reply with "ok": true; with ``answers``, also for a
        failed reply to this request (its id) with a code other than bad_request, too_large and
        busy: the request's own answer (a list's: the directory's), after which the connection is
        in step and goes back to the pool. Retried: failing to connect
        while the broker restarts, a connection that broke before the reply came, and a request
        answered busy. Not retried: any other refusal, a reply that breaks the protocol, a reply
        that did not come in time (the time is up), a socket we may not connect to.
        """
        if not self._permits.acquire(timeout=self.timeout):
            raise TimeoutError("all %s connections to fdbroker stayed in use for %g s"
                               % (self.max_connections, self.timeout))
        try:
            attempts = _Attempts(self.timeout)
            conn = self._take_idle()
            while True:
                pooled = conn is not None
                timeout = attempts.remaining()
                if conn is None:
                    conn = self._connect(attempts, timeout)
                    if conn is None:
                        continue
                try:
                    reply, fds = conn.exchange(request, timeout)
                except _Broken as e:
                    conn.close()
                    conn = None
                    if pooled:
                        # The broker had closed the pooled connection (idle timeout, restart).
                        attempts.again()
                        continue
                    if not attempts.pause():
                        raise self._unavailable(e.cause, attempts)
                    continue
                except _Timeout:
                    conn.close()
                    raise TimeoutError("fdbroker at %s did not answer within %.3g s%s"
                                       % (self.socket, timeout, attempts.note()))
                except BaseException:
                    conn.close()
                    raise
                if reply["ok"] or (answers and reply["error"] not in _REQUEST_CODES
                                   and reply.get("id") is not None):
                    self._give_back(conn)
                    return reply, fds
                # The broker hangs up after some refusals (busy for want of connections); the
                # stream is not trusted after any other.
                conn.close()
                conn = None
                if reply["error"] == "busy" and attempts.pause():
                    continue
                raise _request_error(reply, attempts.note())
        finally:
            self._permits.release()

    def _connect(self, attempts, timeout):
        """A new connection; or None after a pause, to try again; or raises."""
        with self._lock:
            if self._closed:
                raise ValueError("the fdbroker client is closed")
        try:
            return _Connection.connect(self.socket, min(_CONNECT_TIMEOUT, timeout))
        except _socket.timeout as e:
            last = e
        except OSError as e:
            if e.errno not in _RETRIED_CONNECT_ERRNOS:
                # Not ours to use (EACCES), or not a socket path at all: waiting will not help.
                raise BrokerUnavailableError("cannot connect to fdbroker at %s: %s"
                                             % (self.socket, e)) from e
            last = e
        if not attempts.pause():
            raise self._unavailable(last, attempts)
        return None

    def _unavailable(self, cause, attempts):
        e = BrokerUnavailableError("fdbroker at %s is unavailable%s: %s"
                                   % (self.socket, attempts.note(), cause or "no reply"))
        e.__cause__ = cause
        return e

    def _take_idle(self):
        with self._lock:
            return self._idle.pop() if self._idle else None

    def _give_back(self, conn):
        with self._lock:
            if not self._closed:
                self._idle.append(conn)
                return
        conn.close()


def _close_results(results):
    for r in results:
        if isinstance(r, int):
            _close_fds([r])
        elif isinstance(r, io.IOBase):
            r.close()
