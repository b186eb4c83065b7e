"""Tests of fdbroker.py: against the real broker, and against fake ones for what it never does.

    python3 -m unittest discover -s client-python -v

The real broker is started from broker/target/fdbroker.jar (./run build), or $FDBROKER_JAR, with
the java of $FDBROKER_JAVA, $JAVA_HOME or /usr/lib/jvm/temurin-25-jdk-amd64. Without the jar
those tests are skipped, unless $FDBROKER_REQUIRE_BROKER is set (PythonClientIT sets it).
"""

import array
import errno
import json
import os
import resource
import shutil
import socket
import stat
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import fdbroker

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)
MAX_PATHS = 5  # the test broker's limit, low so that open_all has to split a dozen paths
BIG = 3000  # entries in srv/big: more than one page of a listing


def broker_jar():
    return os.environ.get("FDBROKER_JAR") or os.path.join(PROJECT, "broker/target/fdbroker.jar")


def java():
    if os.environ.get("FDBROKER_JAVA"):
        return os.environ["FDBROKER_JAVA"]
    for home in (os.environ.get("JAVA_HOME"), "/usr/lib/jvm/temurin-25-jdk-amd64"):
        if home and os.access(os.path.join(home, "bin/java"), os.X_OK):
            return os.path.join(home, "bin/java")
    return "java"


def open_fds():
    """How many descriptors this process has open (listdir's own is counted every time alike)."""
    return len(os.listdir("/proc/self/fd"))


class Broker:
    """fdbroker serve, as its own process, on a socket that outlives it (for restarts)."""

    def __init__(self, policy, sock, log):
        self.policy, self.socket, self.log = policy, sock, log
        self.process = None

    def start(self):
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [java(), "-jar", broker_jar(), "serve", "--config", self.policy,
                 "--socket", self.socket, "--socket-mode", "0666"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise AssertionError("broker exited with %d:\n%s" % (self.process.returncode, self.output()))
            try:
                with fdbroker.Client(self.socket, timeout=0.5) as c:
                    c.ping()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError("broker did not answer within 60 s:\n" + self.output())
                time.sleep(0.05)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: the broker finishes what is in progress, exits 0
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self):
        with open(self.log, errors="replace") as f:
            return f.read()


class RealBrokerTest(unittest.TestCase):
    """The client against the broker from the built jar, over a tree of its own."""

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(broker_jar()):
            message = "no broker jar at %s (./run build first)" % broker_jar()
            if os.environ.get("FDBROKER_REQUIRE_BROKER"):
                raise AssertionError(message)
            raise unittest.SkipTest(message)
        cls.tmp = os.path.realpath(tempfile.mkdtemp(prefix="fdbroker-py-"))
        cls.srv = os.path.join(cls.tmp, "srv")
        cls.make_tree(cls.srv)
        cls.lanes = os.path.join(cls.tmp, "lanes")
        cls.make_lanes(cls.lanes)
        policy = os.path.join(cls.tmp, "policy.yaml")
        allow = [cls.srv + "/**", cls.lanes + "/*/data.txt"]
        deny = [cls.srv + "/secret/**", cls.srv + "/big/*.key"]
        with open(policy, "w") as f:
            # json.dumps: a YAML-safe quoting of the paths.
            f.write("limits: {max_paths_per_request: %d, idle_timeout_seconds: 0.5}\n"
                    "rules:\n"
                    "  - name: python-client-tests\n"
                    "    users: [\"*\"]\n"
                    "    allow: %s\n"
                    "    deny: %s\n"
                    % (MAX_PATHS, json.dumps(allow), json.dumps(deny)))
        cls.socket = os.path.join(cls.tmp, "fdbroker.sock")
        cls.broker = Broker(policy, cls.socket, os.path.join(cls.tmp, "broker.log"))
        cls.broker.start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @staticmethod
    def make_tree(srv):
        os.makedirs(os.path.join(srv, "many"))
        os.makedirs(os.path.join(srv, "secret"))
        os.makedirs(os.path.join(srv, "dir"))
        with open(os.path.join(srv, "a.txt"), "w") as f:
            f.write("alpha\n")
        with open(os.path.join(srv, "secret/key.txt"), "w") as f:
            f.write("key\n")
        for i in range(12):
            with open(os.path.join(srv, "many/f%02d" % i), "w") as f:
                f.write("file %d\n" % i)
        os.symlink("a.txt", os.path.join(srv, "link"))
        os.symlink("dir", os.path.join(srv, "dirlink"))
        os.mkfifo(os.path.join(srv, "fifo"))
        # A directory of more than a page, some of whose entries the policy denies. Its files are
        # links to one (creating thousands of files takes seconds on some filesystems).
        big = os.path.join(srv, "big")
        os.makedirs(big)
        empty = os.path.join(srv, "dir/.empty")
        open(empty, "w").close()
        for i in range(BIG):
            if i % 10 == 0:
                os.mkdir(os.path.join(big, "d%04d" % i))
            else:
                os.link(empty, os.path.join(big, "f%04d.key" % i if i % 10 == 5 else "f%04d" % i))
        os.unlink(empty)

    @staticmethod
    def make_lanes(lanes):
        """A tree where only lanes/*/data.txt is allowed: the directories on the way are seen."""
        for lane in ("x", "y"):
            os.makedirs(os.path.join(lanes, lane))
        for name in ("x/data.txt", "x/other.txt", "file.txt"):
            with open(os.path.join(lanes, name), "w") as f:
                f.write(name)

    def path(self, name):
        return os.path.join(self.srv, name)

    def client(self, **kw):
        c = fdbroker.Client(self.socket, **kw)
        self.addCleanup(c.close)
        return c

    def test_ping_tells_the_brokers_limit(self):
        info = self.client().ping()
        self.assertEqual(1, info["protocol"])
        self.assertEqual(MAX_PATHS, info["max_paths"])
        self.assertIsInstance(info["version"], str)
        self.assertEqual(info["ops"], info.ops)
        self.assertLessEqual({"open", "ping"}, set(info.ops))

    def test_open_gives_a_read_only_binary_file(self):
        with self.client().open(self.path("a.txt")) as f:
            self.assertEqual(b"alpha\n", f.read())
            self.assertEqual(self.path("a.txt"), f.name)
            with self.assertRaises(OSError) as cm:
                os.write(f.fileno(), b"x")
            self.assertEqual(errno.EBADF, cm.exception.errno)

    def test_open_fd_gives_a_non_inheritable_descriptor(self):
        fd = self.client().open_fd(self.path("a.txt"))
        try:
            self.assertFalse(os.get_inheritable(fd))
            self.assertEqual(b"alpha\n", os.read(fd, 100))
        finally:
            os.close(fd)

    def test_open_all_splits_at_the_brokers_limit_and_keeps_order(self):
        client = self.client()
        client.ping()  # so that the pooled connection is there before counting
        before = open_fds()
        paths = [self.path("many/f%02d" % i) for i in range(12)]
        paths[3] = self.path("secret/key.txt")
        paths[7] = self.path("many/missing")
        results = client.open_all(paths)
        try:
            self.assertEqual(len(paths), len(results))
            self.assertIsInstance(results[3], PermissionError)
            self.assertIsInstance(results[7], FileNotFoundError)
            for i, r in enumerate(results):
                if i not in (3, 7):
                    self.assertEqual(("file %d\n" % i).encode(), r.read())
        finally:
            for r in results:
                if not isinstance(r, Exception):
                    r.close()
        self.assertEqual(before, open_fds())

    def test_open_all_strict_raises_the_first_refusal_and_closes_the_rest(self):
        client = self.client()
        client.ping()  # so that the pooled connection is there before counting
        before = open_fds()
        paths = [self.path("a.txt"), self.path("dir"), self.path("secret/key.txt")]
        with self.assertRaises(fdbroker.BrokerError) as cm:
            client.open_all(paths, strict=True)
        self.assertEqual("not_regular", cm.exception.code)
        self.assertEqual(before, open_fds())

    def test_open_all_takes_a_list_not_a_path(self):
        with self.assertRaises(TypeError):
            self.client().open_all(self.path("a.txt"))
        self.assertEqual([], self.client().open_all([]))

    def test_denied_is_permission_error(self):
        for path in (self.path("secret/key.txt"), "/etc/shadow"):
            with self.assertRaises(PermissionError) as cm:
                self.client().open(path)
            e = cm.exception
            self.assertEqual((errno.EACCES, "denied", path, path), (e.errno, e.code, e.path, e.filename))

    def test_not_found_is_file_not_found_error(self):
        with self.assertRaises(FileNotFoundError) as cm:
            self.client().open(self.path("nothing-here"))
        self.assertEqual(("not_found", self.path("nothing-here")), (cm.exception.code, cm.exception.path))

    def test_other_refusals_are_broker_errors_with_the_wire_code(self):
        client = self.client()
        for name, code in (("link", "symlink"), ("dir", "not_regular"), ("a.txt/", "bad_request")):
            path = self.srv + "/" + name
            with self.assertRaises(fdbroker.BrokerError) as cm:
                client.open_fd(path)
            self.assertEqual((code, path), (cm.exception.code, cm.exception.path), cm.exception)
            self.assertIn(path, str(cm.exception))

    def test_many_threads_share_a_client_without_leaking_descriptors(self):
        client = fdbroker.Client(self.socket, timeout=60)
        before = open_fds()
        failures = []

        def work(n):
            try:
                for i in range(200):
                    name = "many/f%02d" % ((n + i) % 12)
                    if i % 2:
                        with client.open(self.path(name)) as f:
                            data = f.read()
                    else:
                        fd = client.open_fd(self.path(name))
                        data = os.read(fd, 100)
                        os.close(fd)
                    if data != ("file %d\n" % ((n + i) % 12)).encode():
                        failures.append("%s: %r" % (name, data))
                    if i % 50 == 0:
                        with self.assertRaises(PermissionError):
                            client.open_fd(self.path("secret/key.txt"))
            except Exception as e:  # reported below; a thread's exception would be lost
                failures.append(repr(e))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        client.close()
        self.assertEqual([], failures)
        self.assertEqual(before, open_fds())

    def test_a_pooled_connection_the_broker_closed_is_replaced(self):
        client = self.client()
        os.close(client.open_fd(self.path("a.txt")))
        time.sleep(1.0)  # past the broker's idle timeout of 0.5 s
        with client.open(self.path("a.txt")) as f:
            self.assertEqual(b"alpha\n", f.read())

    def test_a_request_waits_out_a_broker_restart(self):
        client = self.client()
        with client.open(self.path("a.txt")):
            pass
        before = open_fds()
        self.broker.stop()  # removes its socket: clients find none until the next start
        self.assertFalse(os.path.exists(self.socket))
        restarted = []
        restarter = threading.Timer(0.5, lambda: restarted.append(self.broker.start()))
        restarter.start()
        try:
            started = time.monotonic()
            with client.open(self.path("a.txt")) as f:
                self.assertEqual(b"alpha\n", f.read())
            self.assertGreater(time.monotonic() - started, 0.4)
        finally:
            restarter.join()
        self.assertEqual([None], restarted)
        self.assertEqual(before, open_fds())

    def test_ping_tells_that_stat_and_list_are_served(self):
        self.assertLessEqual({"open", "stat", "list", "ping"}, set(self.client().ping().ops))

    def assert_described_as_lstat(self, r, path):
        st = os.lstat(path)
        self.assertEqual((path, st.st_mtime_ns, stat.S_IMODE(st.st_mode)), (r.path, r.mtime_ns, r.mode))
        if r.type != "other":
            self.assertEqual(st.st_mode, r.st_mode)
        if r.type == "file":
            self.assertEqual(st.st_size, r.size)

    def test_stat_describes_what_lstat_does_without_following_links(self):
        client = self.client()
        for name, kind in (("a.txt", "file"), ("dir", "dir"), ("link", "symlink"),
                           ("dirlink", "symlink"), ("fifo", "other"), ("", "dir")):
            path = self.path(name).rstrip("/")
            r = client.stat(path)
            self.assertEqual(kind, r.type, path)
            self.assert_described_as_lstat(r, path)
        self.assertEqual(6, client.stat(self.path("a.txt")).st_size)

    def test_stat_refusals_are_the_exceptions_open_raises(self):
        client = self.client()
        for name, kind, code in (("secret", PermissionError, "denied"),
                                 ("secret/key.txt", PermissionError, "denied"),
                                 ("big/f0005.key", PermissionError, "denied"),
                                 ("nothing-here", FileNotFoundError, "not_found"),
                                 ("dirlink/x", fdbroker.BrokerError, "symlink"),
                                 ("a.txt/", fdbroker.BrokerError, "bad_request")):
            path = self.srv + "/" + name
            with self.assertRaises(kind, msg=path) as cm:
                client.stat(path)
            self.assertEqual((code, path), (cm.exception.code, cm.exception.path))
        with self.assertRaises(PermissionError):
            client.stat("/etc/passwd")

    def test_stat_all_splits_at_the_brokers_limit_and_keeps_order(self):
        paths = [self.path("many/f%02d" % i) for i in range(12)]
        paths[3] = self.path("secret/key.txt")
        paths[7] = self.path("many/missing")
        results = self.client().stat_all(paths)
        self.assertIsInstance(results[3], PermissionError)
        self.assertIsInstance(results[7], FileNotFoundError)
        for i, r in enumerate(results):
            if i not in (3, 7):
                self.assert_described_as_lstat(r, paths[i])

    def test_list_shows_what_the_caller_could_stat(self):
        entries = {e.name: e for e in self.client().list(self.srv)}
        self.assertEqual({"a.txt": "file", "many": "dir", "dir": "dir", "big": "dir",
                          "link": "symlink", "dirlink": "symlink", "fifo": "other"},
                         {name: e.type for name, e in entries.items()})  # not secret
        for name, e in entries.items():
            self.assertEqual(self.path(name), e.path)
            self.assert_described_as_lstat(e.stat(), e.path)

    def test_a_big_directory_lists_in_pages_without_its_denied_entries(self):
        client = self.client()
        client.ping()  # so that the pooled connection is there before counting
        before = open_fds()
        sent = []
        call = client._call
        client._call = lambda request, **kw: (sent.append(request), call(request, **kw))[1]
        entries = [e for e in client.list(self.path("big"))]
        names = [e.name for e in entries]
        expected = {("d%04d" if i % 10 == 0 else "f%04d") % i for i in range(BIG) if i % 10 != 5}
        self.assertEqual(len(expected), len(names))
        self.assertEqual(expected, set(names))
        self.assertEqual({"dir", "file"}, {e.type for e in entries})
        self.assertGreater(len(sent), 1, "one page")
        self.assertEqual(None, sent[0]["cursor"])
        self.assertTrue(all(r["op"] == "list" and r["cursor"] for r in sent[1:]), sent)
        self.assertEqual(before, open_fds())

    def test_a_directory_that_cannot_be_listed_raises_and_keeps_the_connection(self):
        client = self.client()
        client.ping()
        (conn,) = client._idle
        for name, kind, code in (("secret", PermissionError, "denied"),
                                 ("nothing-here", FileNotFoundError, "not_found"),
                                 ("a.txt", NotADirectoryError, "not_directory"),
                                 ("dirlink", fdbroker.BrokerError, "symlink")):
            path = self.path(name)
            with self.assertRaises(kind, msg=path) as cm:
                client.list(path)
            self.assertEqual((code, path), (cm.exception.code, cm.exception.path))
            self.assertEqual([conn], client._idle, "the connection was dropped after %s" % code)
        with self.assertRaises(PermissionError):
            client.list("/etc")
        self.assertEqual([conn], client._idle)

    def test_the_way_down_to_an_allowed_file_is_seen_and_nothing_else(self):
        client = self.client()
        self.assertEqual("dir", client.stat(self.lanes).type)
        self.assertEqual({"x": "dir", "y": "dir"}, {e.name: e.type for e in client.list(self.lanes)})
        self.assertEqual(["data.txt"], [e.name for e in client.list(self.lanes + "/x")])
        self.assertEqual([], [e for e in client.list(self.lanes + "/y")])
        with self.assertRaises(FileNotFoundError):  # not a directory: nothing beneath it is allowed
            client.stat(self.lanes + "/file.txt")
        with self.assertRaises(PermissionError):
            client.stat(self.lanes + "/x/other.txt")

    def test_listed_files_open_by_their_entries(self):
        client = self.client()
        read = {e.name: client.open(e).read() for e in client.list(self.path("many")) if e.is_file()}
        self.assertEqual({"f%02d" % i: ("file %d\n" % i).encode() for i in range(12)}, read)

    def test_walk_sees_the_tree_the_policy_shows(self):
        errors = []
        walked = {top: (sorted(dirs), sorted(files))
                  for top, dirs, files in self.client().walk(self.srv, onerror=errors.append)}
        self.assertEqual([], errors)
        self.assertEqual((["big", "dir", "many"], ["a.txt", "dirlink", "fifo", "link"]), walked[self.srv])
        self.assertEqual(([], ["f%02d" % i for i in range(12)]), walked[self.path("many")])
        self.assertEqual(([], []), walked[self.path("dir")])
        self.assertEqual(BIG // 10, len(walked[self.path("big")][0]))
        self.assertEqual(4 + BIG // 10, len(walked))  # srv, many, dir, big and its directories

    def test_a_missing_broker_is_given_up_at_the_timeout(self):
        client = fdbroker.Client(os.path.join(self.tmp, "nobody.sock"), timeout=0.5)
        started = time.monotonic()
        with self.assertRaises(fdbroker.BrokerUnavailableError) as cm:
            client.ping()
        elapsed = time.monotonic() - started
        self.assertTrue(0.3 < elapsed < 5, elapsed)
        self.assertIn("tries in", str(cm.exception))
        self.assertIsInstance(cm.exception.__cause__, FileNotFoundError)


# --- Fake brokers: what the real one never does ---------------------------------------------

def read_frame(sock):
    header = recv_exactly(sock, 4)
    if header is None:
        return None
    (n,) = struct.unpack(">I", header)
    return json.loads(recv_exactly(sock, n))


def recv_exactly(sock, n):
    buf = b""
    while len(buf) < n:
        data = sock.recv(n - len(buf))
        if not data:
            return None
        buf += data
    return buf


def frame(obj):
    body = json.dumps(obj).encode()
    return struct.pack(">I", len(body)) + body


def send_with_fds(sock, data, fds):
    sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else [])


def open_reply(request, granted):
    """The reply granting the first `granted` paths of an open request, refusing the rest."""
    files = []
    for i, p in enumerate(request["paths"]):
        if i < granted:
            files.append({"path": p, "ok": True, "fd": i, "size": 9})
        else:
            files.append({"path": p, "ok": False, "error": "denied", "message": "no"})
    return {"id": request["id"], "ok": True, "files": files}


class ReceivePathTest(unittest.TestCase):
    """One connection's exchange against a fake broker on a socketpair."""

    def setUp(self):
        before = open_fds()
        # Cleanups run last first: this one after the test's descriptors and sockets are closed.
        self.addCleanup(lambda: self.assertEqual(before, open_fds(), "descriptors leaked"))
        self.client_end, self.server_end = socket.socketpair()
        self.addCleanup(self.client_end.close)
        self.addCleanup(self.server_end.close)
        self.conn = fdbroker._Connection(self.client_end)

    def serve(self, respond):
        """Answers one request in a thread: respond(request, server_socket)."""
        def run():
            request = read_frame(self.server_end)
            respond(request, self.server_end)
        t = threading.Thread(target=run)
        t.start()
        self.addCleanup(t.join)

    def fds(self, n):
        """n descriptors of a file with known content, which the test closes at the end."""
        fd = os.open(os.path.join(HERE, "fdbroker.py"), os.O_RDONLY)
        fds = [fd] + [os.dup(fd) for _ in range(n - 1)]
        self.addCleanup(lambda: [os.close(f) for f in fds])
        return fds

    def test_more_descriptors_than_the_control_buffer_holds_are_closed_and_reported(self):
        fds = self.fds(fdbroker.PROTOCOL_MAX_PATHS + 6)
        paths = ["/p%d" % i for i in range(len(fds))]
        self.serve(lambda req, s: send_with_fds(s, frame(open_reply(req, len(fds))), fds))
        with self.assertRaises(fdbroker.ProtocolError) as cm:
            self.conn.exchange({"op": "open", "paths": paths}, 5)
        self.assertIn("MSG_CTRUNC", str(cm.exception))

    def test_descriptors_past_our_open_file_limit_are_closed_and_reported(self):
        fds = self.fds(5)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        # Room for two or three more (listdir's own descriptor is free again): the kernel installs
        # those, drops the rest and sets MSG_CTRUNC, as for any process at its limit of open files.
        used = {int(f) for f in os.listdir("/proc/self/fd")}
        free = [n for n in range(max(used) + 3) if n not in used]
        resource.setrlimit(resource.RLIMIT_NOFILE, (free[1] + 1, hard))
        try:
            self.serve(lambda req, s: send_with_fds(s, frame(open_reply(req, 5)), fds))
            with self.assertRaises(fdbroker.ProtocolError) as cm:
                self.conn.exchange({"op": "open", "paths": ["/a", "/b", "/c", "/d", "/e"]}, 5)
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        self.assertIn("MSG_CTRUNC", str(cm.exception))

    def test_a_frame_split_across_reads_brings_its_descriptors_from_the_first_bytes(self):
        fds = self.fds(3)

        def respond(req, s):
            data = frame(open_reply(req, 3))
            send_with_fds(s, data[:2], fds)  # half the header carries the descriptors
            for piece in (data[2:5], data[5:20], data[20:]):
                time.sleep(0.02)
                s.sendall(piece)
        self.serve(respond)
        reply, got = self.conn.exchange({"op": "open", "paths": ["/a", "/b", "/c", "/d"]}, 5)
        try:
            self.assertEqual(3, len(got))
            self.assertEqual(b'"""', os.pread(got[2], 3, 0))
            self.assertFalse(reply["files"][3]["ok"])
        finally:
            for fd in got:
                os.close(fd)

    def test_descriptors_beyond_the_granted_files_are_closed(self):
        fds = self.fds(3)
        self.serve(lambda req, s: send_with_fds(s, frame(open_reply(req, 1)), fds))
        with self.assertRaises(fdbroker.ProtocolError) as cm:
            self.conn.exchange({"op": "open", "paths": ["/a", "/b"]}, 5)
        self.assertIn("grants 1 files but carried 3", str(cm.exception))

    def test_descriptors_with_a_failed_reply_are_closed(self):
        fds = self.fds(2)
        self.serve(lambda req, s: send_with_fds(
            s, frame({"id": req["id"], "ok": False, "error": "busy", "message": "m"}), fds))
        with self.assertRaises(fdbroker.ProtocolError):
            self.conn.exchange({"op": "open", "paths": ["/a", "/b"]}, 5)

    def test_descriptors_with_a_stat_reply_are_closed(self):
        fds = self.fds(1)
        self.serve(lambda req, s: send_with_fds(
            s, frame({"id": req["id"], "ok": True, "files": [described("/a")]}), fds))
        with self.assertRaises(fdbroker.ProtocolError) as cm:
            self.conn.exchange({"op": "stat", "paths": ["/a"]}, 5)
        self.assertIn("carried 1 descriptors", str(cm.exception))

    def test_a_reply_to_another_request_is_refused_and_its_descriptors_closed(self):
        fds = self.fds(1)
        self.serve(lambda req, s: send_with_fds(s, frame(dict(open_reply(req, 1), id=req["id"] + 1)), fds))
        with self.assertRaises(fdbroker.ProtocolError) as cm:
            self.conn.exchange({"op": "open", "paths": ["/a"]}, 5)
        self.assertIn("does not match", str(cm.exception))

    def test_a_boolean_id_is_not_taken_for_the_number_one(self):
        self.serve(lambda req, s: s.sendall(frame({"id": True, "ok": True, "version": "x",
                                                   "protocol": 1, "max_paths": 64})))
        with self.assertRaises(fdbroker.ProtocolError):
            self.conn.exchange({"op": "ping"}, 5)

    def test_a_connection_that_ends_mid_reply_closes_what_came(self):
        fds = self.fds(2)

        def respond(req, s):
            send_with_fds(s, frame(open_reply(req, 2))[:10], fds)
            s.shutdown(socket.SHUT_WR)
        self.serve(respond)
        with self.assertRaises(fdbroker._Broken):
            self.conn.exchange({"op": "open", "paths": ["/a", "/b"]}, 5)

    def test_a_reply_that_does_not_come_times_out(self):
        self.serve(lambda req, s: None)
        with self.assertRaises(fdbroker._Timeout):
            self.conn.exchange({"op": "ping"}, 0.2)

    def test_a_bad_frame_header_is_a_protocol_error(self):
        self.serve(lambda req, s: s.sendall(struct.pack(">I", 70000)))
        with self.assertRaises(fdbroker.ProtocolError):
            self.conn.exchange({"op": "ping"}, 5)


class FakeListener:
    """A fake broker on a unix socket: answers each connection's requests with answer(n, request),
    n counting connections from 0; a None answer hangs up."""

    def __init__(self, test, answer):
        self.tmp = tempfile.mkdtemp(prefix="fdbroker-py-fake-")
        test.addCleanup(shutil.rmtree, self.tmp, True)
        self.path = os.path.join(self.tmp, "fake.sock")
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.path)
        self.listener.listen(8)
        self.answer = answer
        self.connections = 0
        self.requests = []  # (connection number, request), as they came
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        test.addCleanup(self.stop)

    def run(self):
        while True:
            try:
                s, _ = self.listener.accept()
            except OSError:
                return
            n = self.connections
            self.connections += 1
            with s:
                while True:
                    request = read_frame(s)
                    if request is not None:
                        self.requests.append((n, request))
                    reply = request and self.answer(n, request)
                    if reply is None:
                        break
                    s.sendall(frame(reply))

    def ops(self):
        """The ops of the requests that came, in order."""
        return [r["op"] for _, r in self.requests]

    def stop(self):
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(5)


def pong(request, max_paths=64, ops=None):
    """A ping's reply; without ops, as a broker from before stat and list answered."""
    reply = {"id": request["id"], "ok": True, "version": "fake", "protocol": 1, "max_paths": max_paths}
    if ops is not None:
        reply["ops"] = ops
    return reply


def refusal(request, code):
    return {"id": request["id"], "ok": False, "error": code, "message": "refused by the fake"}


class RetryTest(unittest.TestCase):
    def test_busy_is_tried_again(self):
        def answer(n, request):
            if n < 3:  # as the broker over its connection limit: busy, id null, hang up
                return {"id": None, "ok": False, "error": "busy", "message": "too many connections"}
            return pong(request)
        fake = FakeListener(self, answer)
        with fdbroker.Client(fake.path, timeout=10) as client:
            self.assertEqual("fake", client.ping()["version"])
        self.assertEqual(4, fake.connections)

    def test_busy_past_the_timeout_is_raised_with_the_code(self):
        fake = FakeListener(self, lambda n, r: refusal(r, "busy"))
        with fdbroker.Client(fake.path, timeout=0.5) as client:
            with self.assertRaises(fdbroker.BrokerError) as cm:
                client.ping()
        self.assertEqual("busy", cm.exception.code)
        self.assertIn("tries in", str(cm.exception))
        self.assertGreater(fake.connections, 2)

    def test_bad_request_is_not_tried_again(self):
        fake = FakeListener(self, lambda n, r: refusal(r, "bad_request"))
        with fdbroker.Client(fake.path, timeout=10) as client:
            with self.assertRaises(fdbroker.BrokerError) as cm:
                client.ping()
        self.assertEqual(("bad_request", None), (cm.exception.code, cm.exception.path))
        self.assertEqual(1, fake.connections)

    def test_a_connection_broken_before_the_reply_is_tried_again(self):
        fake = FakeListener(self, lambda n, r: pong(r) if n > 0 else None)
        with fdbroker.Client(fake.path, timeout=10) as client:
            client.ping()
        self.assertEqual(2, fake.connections)

    def test_a_socket_we_may_not_use_fails_at_once(self):
        fake = FakeListener(self, lambda n, r: pong(r))
        os.chmod(fake.path, 0)
        if os.access(fake.path, os.W_OK):
            self.skipTest("running with CAP_DAC_OVERRIDE (root): the mode does not keep us out")
        with self.assertRaises(fdbroker.BrokerUnavailableError):
            fdbroker.Client(fake.path, timeout=10).ping()

    def test_an_oversized_request_is_too_large_without_asking(self):
        fake = FakeListener(self, lambda n, r: pong(r))
        with fdbroker.Client(fake.path) as client:
            with self.assertRaises(fdbroker.BrokerError) as cm:
                client.open_fd("/" + "x" * 70000)
        self.assertEqual("too_large", cm.exception.code)


ALL_OPS = ["open", "stat", "list", "ping"]
MTIME = 1733230000123456789


def described(path, type="file", size=4711, mtime_ns=MTIME, mode=0o644):
    """A stat reply's entry for a path the fake describes."""
    entry = {"path": path, "ok": True, "type": type, "mtime_ns": mtime_ns, "mode": mode}
    if size is not None:
        entry["size"] = size
    return entry


def refused(path, code):
    return {"path": path, "ok": False, "error": code, "message": "refused by the fake"}


def stat_broker(describe, max_paths=64, ops=ALL_OPS):
    """An answer for FakeListener: pings, and stats each path with describe(path) -> entry."""
    def answer(n, request):
        if request["op"] == "ping":
            return pong(request, max_paths, ops)
        return {"id": request["id"], "ok": True, "files": [describe(p) for p in request["paths"]]}
    return answer


class StatTest(unittest.TestCase):
    def client(self, answer, **kw):
        self.fake = FakeListener(self, answer)
        client = fdbroker.Client(self.fake.path, timeout=kw.pop("timeout", 10), **kw)
        self.addCleanup(client.close)
        return client

    def test_a_file_is_described_as_os_stat_would_describe_it(self):
        r = self.client(stat_broker(described)).stat("/srv/a.txt")
        self.assertEqual(("/srv/a.txt", "file", 4711, MTIME, 0o644),
                         (r.path, r.type, r.size, r.mtime_ns, r.mode))
        self.assertTrue(stat.S_ISREG(r.st_mode))
        self.assertEqual(0o644, stat.S_IMODE(r.st_mode))
        self.assertEqual((4711, MTIME), (r.st_size, r.st_mtime_ns))
        self.assertAlmostEqual(MTIME / 1e9, r.st_mtime)
        self.assertIsInstance(r, fdbroker.StatResult)

    def test_each_type_has_its_bits_and_one_not_known_reads_as_other(self):
        kinds = {"/d": "dir", "/l": "symlink", "/o": "other", "/door": "door"}
        client = self.client(stat_broker(lambda p: described(p, kinds[p], None, mode=0o755)))
        d, link, other, door = client.stat_all(["/d", "/l", "/o", "/door"])
        self.assertTrue(stat.S_ISDIR(d.st_mode))
        self.assertTrue(stat.S_ISLNK(link.st_mode))
        for r in (other, door):
            self.assertEqual("other", r.type)
            self.assertEqual(0, stat.S_IFMT(r.st_mode))
            self.assertEqual(0o755, r.st_mode)
        self.assertEqual((None, 0), (d.size, d.st_size))

    def test_a_result_is_immutable_and_compared_by_value(self):
        r = self.client(stat_broker(described)).stat("/a")
        with self.assertRaises(AttributeError):
            r.size = 1
        with self.assertRaises(AttributeError):
            del r.path
        same = fdbroker.StatResult("/a", "file", 4711, MTIME, 0o644)
        self.assertEqual(same, r)
        self.assertEqual(hash(same), hash(r))
        self.assertNotEqual(fdbroker.StatResult("/a", "file", 4712, MTIME, 0o644), r)
        self.assertIn("mode=0o644", repr(r))

    def test_refusals_are_the_exceptions_open_raises(self):
        codes = {"/denied": "denied", "/missing": "not_found", "/link/x": "symlink",
                 "/odd": "something_new", "/busy": "busy"}
        client = self.client(stat_broker(lambda p: refused(p, codes[p])))
        for path, kind, code in (("/denied", PermissionError, "denied"),
                                 ("/missing", FileNotFoundError, "not_found"),
                                 ("/link/x", fdbroker.BrokerError, "symlink"),
                                 ("/odd", fdbroker.BrokerError, "io_error"),
                                 ("/busy", fdbroker.BrokerError, "busy")):
            with self.assertRaises(kind) as cm:
                client.stat(path)
            self.assertEqual((code, path), (cm.exception.code, cm.exception.path))
        self.assertEqual(1, self.fake.connections)  # a refused path is an answer, not a failure
        self.assertEqual(5, self.fake.ops().count("stat"))  # a busy path is not asked again

    def test_stat_all_splits_at_the_brokers_limit_and_keeps_order(self):
        def describe(p):
            return refused(p, "denied") if p == "/p3" else described(p, size=int(p[2:]))
        client = self.client(stat_broker(describe, max_paths=2))
        paths = ["/p%d" % i for i in range(5)]
        results = client.stat_all(paths)
        self.assertEqual(["ping", "stat", "stat", "stat"], self.fake.ops())
        self.assertEqual(paths, [r.path for r in results])
        self.assertIsInstance(results[3], PermissionError)
        self.assertEqual([0, 1, 2, 4], [r.size for i, r in enumerate(results) if i != 3])
        with self.assertRaises(PermissionError):
            client.stat_all(paths, strict=True)
        with self.assertRaises(TypeError):
            client.stat_all("/p1")
        self.assertEqual([], client.stat_all([]))

    def test_a_broker_that_does_not_serve_stat_is_not_asked(self):
        client = self.client(stat_broker(described, ops=None))  # no ops: open and ping
        with self.assertRaises(fdbroker.BrokerError) as cm:
            client.stat("/a")
        self.assertEqual("unsupported", cm.exception.code)
        self.assertIn("does not serve stat", str(cm.exception))
        with self.assertRaises(fdbroker.BrokerError):
            client.stat_all(["/a", "/b"])
        self.assertNotIn("stat", self.fake.ops())

    def test_a_broker_upgraded_since_the_last_ping_is_asked_again(self):
        ops = [["open", "ping"]]
        client = self.client(lambda n, r: stat_broker(described, ops=ops[0])(n, r))
        with self.assertRaises(fdbroker.BrokerError):
            client.stat("/a")
        ops[0] = ALL_OPS
        self.assertEqual("/a", client.stat("/a").path)
        client.stat("/b")  # the ops are known now: no ping
        self.assertEqual(["ping", "ping", "stat", "stat"], self.fake.ops())

    def test_a_busy_request_is_asked_again(self):
        def answer(n, request):
            if request["op"] == "stat" and n < 2:
                return {"id": None, "ok": False, "error": "busy", "message": "too many connections"}
            return stat_broker(described)(n, request)
        self.assertEqual(4711, self.client(answer).stat("/a").size)
        self.assertEqual(3, self.fake.connections)

    def test_a_connection_broken_before_the_reply_is_asked_again(self):
        def answer(n, request):
            return None if request["op"] == "stat" and n == 0 else stat_broker(described)(n, request)
        self.assertEqual("/a", self.client(answer).stat("/a").path)
        self.assertEqual(2, self.fake.connections)

    def test_malformed_descriptions_are_protocol_errors_and_the_connection_is_dropped(self):
        def dropped(entry):
            return {k: v for k, v in described("/a").items() if k != entry}
        bad = [
            dropped("type"), dropped("size"), dropped("mtime_ns"), dropped("mode"),
            dict(described("/a"), type=7), dict(described("/a"), size=-1),
            dict(described("/a"), size=1.5), dict(described("/a"), size=True),
            dict(described("/a"), mtime_ns="1"), dict(described("/a"), mtime_ns=1e18),
            dict(described("/a"), mode=0o10000), dict(described("/a"), mode=-1),
            dict(described("/a", type="dir", size=None), size="big"),
            dict(described("/a"), path="/b"), dict(described("/a"), ok=None),
            {"path": "/a", "ok": False}, "/a", None,
        ]
        for entry in bad:
            client = self.client(lambda n, r: pong(r, ops=ALL_OPS) if r["op"] == "ping" else
                                 {"id": r["id"], "ok": True, "files": [entry]})
            client.ping()
            with self.assertRaises(fdbroker.ProtocolError, msg=repr(entry)):
                client.stat("/a")
            client.ping()
            self.assertEqual(2, self.fake.connections, "the connection was kept after %r" % (entry,))

    def test_a_reply_with_too_few_or_too_many_results_is_a_protocol_error(self):
        for files in ([], [described("/a"), described("/b")], {"path": "/a"}, None):
            client = self.client(lambda n, r: pong(r, ops=ALL_OPS) if r["op"] == "ping" else
                                 {"id": r["id"], "ok": True, "files": files})
            with self.assertRaises(fdbroker.ProtocolError, msg=repr(files)):
                client.stat("/a")

    def test_a_reply_to_another_request_is_a_protocol_error(self):
        client = self.client(lambda n, r: pong(r, ops=ALL_OPS) if r["op"] == "ping" else
                             {"id": r["id"] + 1, "ok": True, "files": [described("/a")]})
        with self.assertRaises(fdbroker.ProtocolError) as cm:
            client.stat("/a")
        self.assertIn("does not match", str(cm.exception))


def entry(name, type="file", size=None, mtime_ns=MTIME, mode=0o644):
    """A listing's entry; a file's size is its name's length unless given."""
    e = {"name": name, "type": type, "mtime_ns": mtime_ns, "mode": mode}
    if type == "file" or size is not None:
        e["size"] = len(name) if size is None else size
    return e


def list_broker(dirs, errors=None, ops=ALL_OPS):
    """An answer for FakeListener: pings, and lists dirs[path], a list of pages of entries, with
    cursors "c1", "c2", ...; or refuses with errors[path]."""
    errors = errors or {}

    def answer(n, request):
        if request["op"] == "ping":
            return pong(request, ops=ops)
        path = request["path"]
        if path in errors:
            return refusal(request, errors[path])
        pages = dirs[path]
        i = 0 if request["cursor"] is None else int(request["cursor"][1:])
        return {"id": request["id"], "ok": True, "entries": pages[i],
                "cursor": "c%d" % (i + 1) if i + 1 < len(pages) else None}
    return answer


class ListTest(unittest.TestCase):
    def client(self, answer, **kw):
        self.fake = FakeListener(self, answer)
        client = fdbroker.Client(self.fake.path, timeout=kw.pop("timeout", 10), **kw)
        self.addCleanup(client.close)
        return client

    def cursors(self):
        """The cursors of the list requests that came, in order."""
        return [r["cursor"] for _, r in self.fake.requests if r["op"] == "list"]

    def test_pages_are_asked_for_as_the_iterator_reaches_them_until_the_cursor_is_null(self):
        pages = [[entry("a"), entry("b")], [], [], [entry("c")], []]
        client = self.client(list_broker({"/d": pages}))
        it = client.list("/d")
        self.assertEqual([None], self.cursors())  # the first page at once
        self.assertEqual(["a", "b"], [next(it).name, next(it).name])
        self.assertEqual([None], self.cursors())
        self.assertEqual("c", next(it).name)  # past two empty pages
        self.assertEqual([None, "c1", "c2", "c3"], self.cursors())
        self.assertEqual([], [e for e in it])
        self.assertEqual([None, "c1", "c2", "c3", "c4"], self.cursors())
        self.assertEqual(1, self.fake.connections)

    def test_no_connection_is_held_between_pages(self):
        pages = [[entry("a")], [entry("b")]]
        client = self.client(list_broker({"/d": pages}), max_connections=1, timeout=1)
        it = client.list("/d")
        self.assertEqual("a", next(it).name)
        client.ping()  # would wait for the only connection, and time out, if the listing held it
        self.assertEqual(["b"], [e.name for e in it])
        self.assertEqual(1, self.fake.connections)

    def test_an_empty_directory_is_one_empty_page(self):
        client = self.client(list_broker({"/empty": [[]]}))
        self.assertEqual([], [e for e in client.list("/empty")])

    def test_entries_are_read_as_os_dir_entries(self):
        pages = [[entry("f.txt", size=9), entry("sub", "dir", mode=0o755),
                  entry("ln", "symlink", mode=0o777), entry("fifo", "other"), entry("door", "door")]]
        client = self.client(list_broker({"/srv/d": pages, "/": pages}))
        f, sub, ln, fifo, door = client.list("/srv/d")
        requests = len(self.fake.requests)
        self.assertEqual(("f.txt", "/srv/d/f.txt", "file", 9, MTIME, 0o644),
                         (f.name, f.path, f.type, f.size, f.mtime_ns, f.mode))
        self.assertEqual("/srv/d/f.txt", os.fspath(f))
        self.assertEqual([(True, False, False), (False, True, False), (False, False, True),
                          (False, False, False), (False, False, False)],
                         [(e.is_file(), e.is_dir(), e.is_symlink()) for e in (f, sub, ln, fifo, door)])
        self.assertFalse(ln.is_dir(follow_symlinks=True))  # never followed
        self.assertEqual(("other", "other"), (fifo.type, door.type))
        self.assertEqual(fdbroker.StatResult("/srv/d/f.txt", "file", 9, MTIME, 0o644), f.stat())
        self.assertTrue(stat.S_ISDIR(sub.stat().st_mode))
        self.assertTrue(stat.S_ISLNK(ln.stat().st_mode))
        self.assertEqual(None, sub.size)
        self.assertEqual(requests, len(self.fake.requests))  # stat() of an entry asks nothing
        with self.assertRaises(AttributeError):
            f.name = "g"
        self.assertEqual(["/f.txt", "/sub"], [e.path for e in client.list("/")][:2])

    def test_a_directory_that_cannot_be_listed_raises_and_keeps_the_connection(self):
        errors = {"/denied": "denied", "/missing": "not_found", "/file": "not_directory",
                  "/link": "symlink", "/broken": "io_error", "/odd": "something_new"}
        client = self.client(list_broker({}, errors))
        for path, kind, code in (("/denied", PermissionError, "denied"),
                                 ("/missing", FileNotFoundError, "not_found"),
                                 ("/file", NotADirectoryError, "not_directory"),
                                 ("/link", fdbroker.BrokerError, "symlink"),
                                 ("/broken", fdbroker.BrokerError, "io_error"),
                                 ("/odd", fdbroker.BrokerError, "io_error")):  # as the doc says
            with self.assertRaises(kind) as cm:
                client.list(path)
            self.assertEqual((code, path), (cm.exception.code, cm.exception.path))
            self.assertIn(path, str(cm.exception))
        self.assertIn("something_new", str(cm.exception))
        self.assertEqual(6, self.fake.ops().count("list"))  # none asked again
        client.ping()
        self.assertEqual(1, self.fake.connections)  # the directory's answer: the connection is fine

    def test_a_refused_request_drops_the_connection_as_for_open(self):
        for code in ("bad_request", "too_large"):
            client = self.client(list_broker({}, {"/d": code}))
            with self.assertRaises(fdbroker.BrokerError) as cm:
                client.list("/d")
            self.assertEqual(code, cm.exception.code)
            self.assertIsNone(cm.exception.path)
            self.assertEqual(1, self.fake.ops().count("list"), code)  # not asked again
            client.ping()
            self.assertEqual(2, self.fake.connections, code)

    def test_a_refusal_without_the_requests_id_drops_the_connection(self):
        client = self.client(lambda n, r: pong(r, ops=ALL_OPS) if r["op"] == "ping" else
                             dict(refusal(r, "not_found"), id=None))
        with self.assertRaises(fdbroker.BrokerError) as cm:  # a request the broker could not read
            client.list("/d")
        self.assertEqual(("not_found", None), (cm.exception.code, cm.exception.path))
        client.ping()
        self.assertEqual(2, self.fake.connections)

    def test_a_busy_page_is_asked_again(self):
        busy = [2]

        def answer(n, request):
            if request["op"] == "list" and request["cursor"] == "c1" and busy[0]:
                busy[0] -= 1
                return refusal(request, "busy")
            return list_broker({"/d": [[entry("a")], [entry("b")]]})(n, request)
        client = self.client(answer)
        self.assertEqual(["a", "b"], [e.name for e in client.list("/d")])
        self.assertEqual([None, "c1", "c1", "c1"], self.cursors())

    def test_a_page_whose_connection_breaks_is_asked_again(self):
        def answer(n, request):
            if request["op"] == "list" and request["cursor"] == "c1" and n == 0:
                return None  # hang up
            return list_broker({"/d": [[entry("a")], [entry("b")], [entry("c")]]})(n, request)
        client = self.client(answer)
        self.assertEqual(["a", "b", "c"], [e.name for e in client.list("/d")])
        self.assertEqual(2, self.fake.connections)

    def test_a_later_page_that_fails_raises_from_the_iteration(self):
        def answer(n, request):
            if request["op"] == "list" and request["cursor"] == "c1":
                return refusal(request, "not_found")  # removed while listed
            return list_broker({"/d": [[entry("a")], [entry("b")]]})(n, request)
        it = self.client(answer).list("/d")
        self.assertEqual("a", next(it).name)
        with self.assertRaises(FileNotFoundError):
            next(it)

    def test_a_broker_that_does_not_serve_list_is_not_asked(self):
        client = self.client(list_broker({"/d": [[]]}, ops=["open", "stat", "ping"]))
        with self.assertRaises(fdbroker.BrokerError) as cm:
            client.list("/d")
        self.assertEqual("unsupported", cm.exception.code)
        self.assertIn("does not serve list", str(cm.exception))
        self.assertNotIn("list", self.fake.ops())

    def test_malformed_pages_are_protocol_errors_and_the_connection_is_dropped(self):
        good = entry("a")
        bad_pages = [{"entries": [dict(good, name=name)], "cursor": None}
                     for name in ("", ".", "..", "a/b", "/", "a\0b", 5, None)]
        bad_pages += [{"entries": [{k: v for k, v in good.items() if k != "name"}], "cursor": None},
                      {"entries": [dict(good, size=None)], "cursor": None},
                      {"entries": [dict(good, type=None)], "cursor": None},
                      {"entries": [dict(good, mode=0o20000)], "cursor": None},
                      {"entries": [dict(good, mtime_ns=False)], "cursor": None},
                      {"entries": ["a"], "cursor": None},
                      {"entries": {"a": good}, "cursor": None},
                      {"entries": None, "cursor": None},
                      {"entries": [good]}]
        bad_pages += [{"entries": [good], "cursor": cursor}
                      for cursor in ("", "x" * 129, "a b", "caf\u00e9", "a\nb", 5, True, [])]
        for page in bad_pages:
            client = self.client(lambda n, r: pong(r, ops=ALL_OPS) if r["op"] == "ping" else
                                 dict(page, id=r["id"], ok=True))
            client.ping()
            with self.assertRaises(fdbroker.ProtocolError, msg=repr(page)):
                client.list("/d")
            client.ping()
            self.assertEqual(2, self.fake.connections, "the connection was kept after %r" % (page,))

    def test_a_cursor_of_128_printable_characters_is_followed(self):
        cursor = "".join(chr(33 + i % 94) for i in range(128))

        def answer(n, request):
            if request["op"] == "ping":
                return pong(request, ops=ALL_OPS)
            if request["cursor"] is None:
                return {"id": request["id"], "ok": True, "entries": [], "cursor": cursor}
            return {"id": request["id"], "ok": True, "entries": [entry("z")], "cursor": None}
        self.assertEqual(["z"], [e.name for e in self.client(answer).list("/d")])
        self.assertEqual([None, cursor], self.cursors())

    def test_a_listing_that_does_not_move_on_is_a_protocol_error(self):
        def answer(n, request):
            if request["op"] == "ping":
                return pong(request, ops=ALL_OPS)
            return {"id": request["id"], "ok": True, "entries": [], "cursor": "same"}
        it = self.client(answer).list("/d")
        with self.assertRaises(fdbroker.ProtocolError) as cm:
            next(it)
        self.assertIn("did not move on", str(cm.exception))

    def test_a_reply_to_another_request_is_a_protocol_error(self):
        client = self.client(lambda n, r: pong(r, ops=ALL_OPS) if r["op"] == "ping" else
                             {"id": r["id"] + 1, "ok": True, "entries": [], "cursor": None})
        with self.assertRaises(fdbroker.ProtocolError):
            client.list("/d")


class WalkTest(unittest.TestCase):
    TREE = {
        "/t": [[entry("a", "dir"), entry("f")], [entry("ln", "symlink"), entry("no", "dir")]],
        "/t/a": [[entry("b", "dir"), entry("g"), entry("c", "dir")]],
        "/t/a/b": [[]],
        "/t/a/c": [[entry("h")]],
    }

    def client(self, errors=None):
        self.fake = FakeListener(self, list_broker(self.TREE, errors or {"/t/no": "denied"}))
        client = fdbroker.Client(self.fake.path, timeout=10)
        self.addCleanup(client.close)
        return client

    def test_top_down_as_os_walk(self):
        errors = []
        walked = [w for w in self.client().walk("/t", onerror=errors.append)]
        self.assertEqual([("/t", ["a", "no"], ["f", "ln"]),
                          ("/t/a", ["b", "c"], ["g"]),
                          ("/t/a/b", [], []),
                          ("/t/a/c", [], ["h"])], walked)
        self.assertEqual([("denied", "/t/no")], [(e.code, e.path) for e in errors])
        self.assertIsInstance(errors[0], PermissionError)

    def test_bottom_up_as_os_walk(self):
        walked = [w[0] for w in self.client().walk("/t", topdown=False)]
        self.assertEqual(["/t/a/b", "/t/a/c", "/t/a", "/t"], walked)

    def test_names_removed_from_dirnames_are_not_walked(self):
        walked = []
        for dirpath, dirnames, _ in self.client().walk("/t"):
            walked.append(dirpath)
            if "b" in dirnames:
                dirnames.remove("b")
        self.assertEqual(["/t", "/t/a", "/t/a/c"], walked)

    def test_the_brokers_own_failures_are_raised_not_passed_to_onerror(self):
        errors = []
        with self.assertRaises(fdbroker.BrokerError) as cm:
            [w for w in self.client({"/t/a": "bad_request"}).walk("/t", onerror=errors.append)]
        self.assertEqual("bad_request", cm.exception.code)
        self.assertEqual([], errors)


class PingTest(unittest.TestCase):
    def test_a_broker_that_does_not_name_its_ops_serves_open_and_ping(self):
        fake = FakeListener(self, lambda n, r: pong(r, max_paths=7))
        with fdbroker.Client(fake.path) as client:
            info = client.ping()
        self.assertEqual(["open", "ping"], info.ops)
        self.assertEqual((7, 1, "fake"), (info.max_paths, info.protocol, info.version))
        self.assertEqual({"version": "fake", "protocol": 1, "max_paths": 7, "ops": ["open", "ping"]},
                         info)  # still the dict it was

    def test_the_ops_a_broker_names_are_told(self):
        fake = FakeListener(self, lambda n, r: pong(r, ops=["open", "stat", "list", "ping", "later"]))
        with fdbroker.Client(fake.path) as client:
            self.assertEqual(["open", "stat", "list", "ping", "later"], client.ping().ops)

    def test_ops_that_are_not_a_list_of_names_are_a_protocol_error(self):
        for ops in ("open", [1], {"open": True}, None):
            fake = FakeListener(self, lambda n, r: dict(pong(r), ops=ops))
            with fdbroker.Client(fake.path) as client:
                with self.assertRaises(fdbroker.ProtocolError, msg=repr(ops)):
                    client.ping()


class BackoffTest(unittest.TestCase):
    def test_pauses_double_with_jitter_and_stop_before_the_deadline(self):
        now = [0.0]
        pauses = []

        def sleep(s):
            pauses.append(s)
            now[0] += s
        attempts = fdbroker._Attempts(3.0, clock=lambda: now[0], sleep=sleep, jitter=lambda: 0.999)
        while attempts.pause():
            pass
        self.assertAlmostEqual(0.020, pauses[0], places=3)
        self.assertAlmostEqual(0.040, pauses[1], places=3)
        self.assertTrue(all(p <= 1.0 for p in pauses), pauses)
        self.assertGreaterEqual(3.0 - now[0], 0.1 - 1e-9)  # the last try keeps 100 ms
        self.assertEqual(len(pauses) + 1, attempts.count)

        low = fdbroker._Attempts(3.0, clock=lambda: 0.0, sleep=pauses.append, jitter=lambda: 0.0)
        low.pause()
        self.assertAlmostEqual(0.010, pauses[-1])


if __name__ == "__main__":
    unittest.main()
