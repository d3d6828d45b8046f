"""Emulator of the third-party worker (the challenge's `worker` program): same CLI, same HTTP stream, plus fault flags.

    worker -workerId 1 -port 3001 [-interval S] [-mtbf S] [-seed N] [-hangAfter K]
           [-startDelay S] [-split] [-lead S] [-crashCode N] [-crashMode fin|rst] [-sentLog PATH] [-flaky]

``GET /rnd?n=N`` streams N lines ``rnd=<0..99>\\n`` as a chunked HTTP/1.1 response, one line per
``-interval`` on an absolute schedule. One stream at a time (a concurrent one gets 429); bad ``n`` gets
400, other paths 404. ``-mtbf`` makes the process die abruptly (``os._exit``) after an exponential
lifetime counted from process start; with ``-crashMode rst`` its connections then end in an RST.

Start-up speed is the top requirement (every crash pays it again), so this module is standalone and
imports only what the interpreter has mostly loaded already: the C modules ``_socket`` and ``_thread``
instead of ``socket`` and ``threading`` (those pull in enum, selectors and collections: ~20 ms), and
``_random`` instead of ``random``. It never imports the rest of workerlab. Values and lifetime equal
what ``random.Random(seed)`` would give: ``expovariate(1 / mtbf)`` first, then ``randrange(100)`` per line.
"""

import _random
import _signal
import _socket
import _thread
import errno
import math
import sys
import time
from posix import _exit, getpid, kill, write  # `os` is another ~2 ms of imports

#: name -> (type, default, help); the order of the usage text is alphabetical, as in Go.
FLAGS = {
    "crashCode": (int, 2, "exit status of a crash"),
    "crashMode": (str, "fin", "how a crash ends open connections: fin (a clean close) or rst (a reset)"),
    "flaky": (bool, False, "crash-prone, as the 2023 original seems to be: -mtbf 10 unless -mtbf is given"),
    "hangAfter": (int, 0, "after K lines of a stream stop writing, keeping the connection open; 0 = off"),
    "interval": (float, 1.0, "seconds between numbers"),
    "lead": (float, 0.0, "seconds between the request and the first number"),
    "mtbf": (float, 30.0, "mean seconds of the exponential lifetime from process start; 0 = never crash"),
    "port": (int, None, "port to listen on at 127.0.0.1 (required)"),
    "seed": (int, None, "seed of the numbers and the lifetime (default: from time and workerId)"),
    "sentLog": (str, "", "append '<pid> <monotonic> <value>' to this file per fully written number"),
    "split": (bool, False, "split some lines across chunks and coalesce others"),
    "startDelay": (float, 0.0, "seconds to sleep before listening"),
    "workerId": (int, None, "worker id, echoed in the X-Worker-Id header (required)"),
}
_TYPE_NAMES = {int: "int", float: "float", str: "string"}
_TRUE = ("1", "t", "T", "true", "TRUE", "True")
_FALSE = ("0", "f", "F", "false", "FALSE", "False")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MAX_HEAD = 65536  # bytes of request line + headers we accept
#: struct linger {l_onoff = 1, l_linger = 0}: close() then resets the connection (no `struct` import)
_LINGER_RESET = (1).to_bytes(4, sys.byteorder) + (0).to_bytes(4, sys.byteorder)


class UsageError(Exception):
    """Bad command line: the message goes before the usage text, exit status 2."""


def usage() -> str:
    """Go `flag`-style usage text."""
    out = ["Usage of worker:"]
    for name, (kind, default, text) in FLAGS.items():
        out.append(f"  -{name}" + ("" if kind is bool else f" {_TYPE_NAMES[kind]}"))
        if default not in (None, False, "", 0):  # Go shows only non-zero defaults
            shown = f"{default:g}" if kind is float else f'"{default}"' if kind is str else default
            text += f" (default {shown})"
        out.append("    \t" + text)
    return "\n".join(out) + "\n"


def _convert(name: str, kind: type, value: str):
    """One flag value, checked like Go's flag package (plus: durations finite and >= 0)."""
    try:
        if kind is str:
            return value
        if value != value.strip() or not value:
            raise ValueError
        result = kind(value)
        if kind is float and not (math.isfinite(result) and result >= 0):
            raise ValueError
    except ValueError:
        raise UsageError(f'invalid value "{value}" for flag -{name}: parse error') from None
    return result


def parse_flags(argv: list) -> dict:
    """Parse Go `flag` syntax (-f v, -f=v, --f v, --f=v; bools: -b or -b=true). Raises UsageError."""
    opts: dict = {name: spec[1] for name, spec in FLAGS.items()}
    given = set()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if len(arg) < 2 or arg[0] != "-" or arg == "--":
            break  # Go stops at the first non-flag argument; the rest is ignored
        name = arg[2:] if arg[1] == "-" else arg[1:]
        if not name or name[0] in "-=":
            raise UsageError(f"bad flag syntax: {arg}")
        name, eq, value = name.partition("=")
        if name not in FLAGS:
            if name in ("h", "help"):
                raise UsageError("")  # empty message: plain usage, exit 0
            raise UsageError(f"flag provided but not defined: -{name}")
        kind = FLAGS[name][0]
        if kind is bool:
            if eq and value not in _TRUE + _FALSE:
                raise UsageError(f'invalid boolean value "{value}" for -{name}: parse error')
            value = not eq or value in _TRUE
        else:
            if not eq:
                i += 1
                if i == len(argv):
                    raise UsageError(f"flag needs an argument: -{name}")
                value = argv[i]
            value = _convert(name, kind, value)
        opts[name] = value
        given.add(name)
        i += 1
    for name in ("workerId", "port"):
        if name not in given:
            raise UsageError(f"flag -{name} is required")
    for name, high in (("port", 65535), ("crashCode", 255), ("hangAfter", sys.maxsize)):
        if not 0 <= opts[name] <= high:
            raise UsageError(f'invalid value "{opts[name]}" for flag -{name}: out of range')
    if opts["crashMode"] not in ("fin", "rst"):
        raise UsageError(f'invalid value "{opts["crashMode"]}" for flag -crashMode: want fin or rst')
    if opts["flaky"] and "mtbf" not in given:
        opts["mtbf"] = 10.0
    return opts


def http_date() -> str:
    """The current time as an HTTP Date header value (no locale, no email.utils)."""
    t = time.gmtime()
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def log(message: str) -> None:
    """One Go-`log`-style line on stderr (local time first), flushed."""
    sys.stderr.write(time.strftime("%Y/%m/%d %H:%M:%S ") + message + "\n")
    sys.stderr.flush()


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked transfer encoding."""
    return b"%x\r\n%s\r\n" % (len(data), data)


class ClientGone(Exception):
    """The client closed the connection."""


class Connection:
    """One accepted socket plus the bytes read from it but not yet consumed."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def read_request(self):
        """Next request as (method, target, version, headers dict), or None when the client is done."""
        while True:  # the head ends at the first blank line (bare LF tolerated, as Go does)
            ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := self.buf.find(sep)) >= 0]
            if ends:
                end = min(ends)
                break
            if len(self.buf) > _MAX_HEAD:
                return None
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        head, self.buf = self.buf[:end].decode("latin-1"), self.buf[end:]
        lines = head.strip("\r\n").replace("\r\n", "\n").split("\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return ("", "", "", {})
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        declared = headers.get("content-length", "0")
        length = int(declared) if declared.isdigit() else 0
        while len(self.buf) < length:  # a body nobody asked for: read it and drop it
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        self.buf = self.buf[length:]
        return (*parts, headers)

    def wait_until(self, deadline: float) -> None:
        """Sleep until `deadline` (monotonic), noticing meanwhile if the client hangs up."""
        while (delay := deadline - time.monotonic()) > 0:
            if len(self.buf) > _MAX_HEAD:  # a client that floods us: just sleep
                time.sleep(delay)
                break
            self.sock.settimeout(delay)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                break
            finally:
                self.sock.settimeout(None)
            if not data:
                raise ClientGone
            self.buf += data  # a pipelined request, served after this stream

    def respond(self, status: str, body: str, close: bool = False) -> None:
        """A short non-streaming response with a one-line text body."""
        data = body.encode() + b"\n"
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\nDate: {http_date()}\r\n"
        )
        if close:
            head += "Connection: close\r\n"
        self.sock.sendall(head.encode() + b"\r\n" + data)


class EmulatedWorker:
    """The emulated worker: a listening socket, a thread per connection, at most one stream."""

    def __init__(self, opts: dict, started: float):
        self.opts = opts
        self.id = opts["workerId"]
        self.started = started  # monotonic time of process start: the lifetime counts from here
        seed = opts["seed"]
        if seed is None:
            seed = time.time_ns() * 1_000_003 + self.id * 7919 + getpid()
        self.rng = _random.Random(seed)
        u = self.rng.random()  # drawn even without -mtbf, so the numbers do not depend on it
        self.lifetime = -math.log(1.0 - u) / (1.0 / opts["mtbf"]) if opts["mtbf"] > 0 else None
        self.busy = _thread.allocate_lock()  # held while a stream is active
        self.writing = _thread.allocate_lock()  # held while a line is written and logged
        self.sent_log = open(opts["sentLog"], "ab", buffering=0) if opts["sentLog"] else None
        self.conns: set = set()  # open connection sockets, for -crashMode rst

    def number(self) -> int:
        """Next value in 0..99, exactly as random.Random.randrange(100) draws it."""
        r = self.rng.getrandbits(7)
        while r >= 100:
            r = self.rng.getrandbits(7)
        return r

    def crash_later(self) -> None:
        """Thread: at the end of the lifetime, die abruptly as a crashing Go program would."""
        assert self.lifetime is not None  # started only when there is one
        time.sleep(max(0.0, self.started + self.lifetime - time.monotonic()))
        self.writing.acquire(timeout=2.0)  # a loaded host may pause the writer between send and log
        if self.opts["crashMode"] == "rst":  # exiting closes every socket: with linger 0, as an RST
            for conn in list(self.conns):
                try:
                    conn.setsockopt(_socket.SOL_SOCKET, _socket.SO_LINGER, _LINGER_RESET)
                except OSError:
                    pass
        o = self.opts
        panic = f"panic: worker {self.id}: simulated crash after {self.lifetime:.6f} s (mtbf {o['mtbf']:g}, "
        write(2, f"{panic}seed {o['seed']})\n".encode())
        _exit(o["crashCode"])

    def terminate(self, signum: int, _frame) -> None:
        """SIGTERM with -sentLog: finish logging the line being written, then die of the signal."""
        self.writing.acquire(timeout=0.1)
        _signal.signal(signum, _signal.SIG_DFL)
        kill(getpid(), signum)

    def run(self) -> int:
        """Listen and serve until killed. Returns the exit status when it cannot listen."""
        if self.sent_log:  # the log must hold every line the client could have received
            _signal.signal(_signal.SIGTERM, self.terminate)
        if self.lifetime is not None:
            _thread.start_new_thread(self.crash_later, ())
        if self.opts["startDelay"]:
            time.sleep(self.opts["startDelay"])
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        port = self.opts["port"]
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(128)
        except OSError as e:
            reason = "is already in use" if e.errno == errno.EADDRINUSE else f"cannot be listened on: {e}"
            sys.stderr.write(f"worker {self.id}: port {port} {reason}\n")
            sys.stderr.flush()
            return 1
        log(f"worker {self.id} started on 127.0.0.1:{sock.getsockname()[1]}")
        while True:
            try:
                fd, _ = sock._accept()  # type: ignore[attr-defined]  # _socket's fd-only accept
            except OSError:  # e.g. out of file descriptors: back off a little, as Go's server does
                time.sleep(0.01)
                continue
            conn = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM, 0, fd)
            conn.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)  # as Go does
            _thread.start_new_thread(self.serve, (conn,))

    def serve(self, sock) -> None:
        """Thread: answer the requests of one connection until it closes (HTTP/1.1 keep-alive)."""
        conn = Connection(sock)
        self.conns.add(sock)
        try:
            while (request := conn.read_request()) is not None:
                method, target, version, headers = request
                if not method:
                    conn.respond("400 Bad Request", "malformed request", close=True)
                    break
                close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
                if "transfer-encoding" in headers:  # a request body we cannot frame
                    conn.respond("400 Bad Request", "request bodies are not supported", close=True)
                    break
                self.handle(conn, target)
                if close:
                    break
        except (OSError, ClientGone):
            pass
        finally:
            self.conns.discard(sock)
            sock.close()

    def handle(self, conn: Connection, target: str) -> None:
        """Route one request: /rnd?n=N streams; everything else is an error response."""
        path, _, query = target.partition("?")
        if path != "/rnd":
            return conn.respond("404 Not Found", "404 page not found")
        n = next((p[2:] for p in query.split("&") if p.startswith("n=")), "")
        digits = n[1:] if n[:1] in "+-" else n
        if not (digits.isascii() and digits.isdigit()) or int(n) <= 0:
            return conn.respond(
                "400 Bad Request", f"invalid n {n!r}: want a positive integer, e.g. /rnd?n=10"
            )
        if not self.busy.acquire(False):
            return conn.respond("429 Too Many Requests", f"worker {self.id} is busy: one stream at a time")
        try:
            self.stream(conn, int(n))
        finally:
            self.busy.release()
        self.send(conn, b"0\r\n\r\n")  # slot free first, as Go ends a response after its handler

    def send(self, conn: Connection, data: bytes, values=()) -> None:
        """Hand bytes to the socket; log the numbers they complete once that succeeded."""
        with self.writing:
            conn.sock.sendall(data)
            if self.sent_log:
                pid = getpid()
                for value in values:
                    self.sent_log.write(b"%d %.6f %d\n" % (pid, time.monotonic(), value))

    def stream(self, conn: Connection, n: int) -> None:
        """The 200 response: n lines, line i at request + lead + i * interval (``handle`` ends it)."""
        o = self.opts
        conn.sock.sendall(
            "HTTP/1.1 200 OK\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\n"
            f"Content-Type: application/text\r\nX-Worker-Id: {self.id}\r\nDate: {http_date()}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        start = time.monotonic() + o["lead"]
        pause = min(o["interval"] / 4, 0.01)  # between the two halves of a split line
        held = None  # (line, value) kept back to be coalesced with the next line (-split)
        for i in range(n):
            if o["hangAfter"] and i == o["hangAfter"]:
                while True:  # stalled: silent, connection open, slot taken, until the process dies
                    time.sleep(3600)
            conn.wait_until(start + i * o["interval"])
            value = self.number()
            line = b"rnd=%d\n" % value
            if not o["split"] or i % 3 == 0:
                if held:
                    self.send(conn, chunk(held[0] + line), (held[1], value))
                    held = None
                else:
                    self.send(conn, chunk(line), (value,))
            elif i % 3 == 1:  # split at a position that moves along the line from stream to stream
                cut = 1 + (i // 3) % (len(line) - 1)
                self.send(conn, chunk(line[:cut]))
                conn.wait_until(time.monotonic() + pause)
                self.send(conn, chunk(line[cut:]), (value,))
            elif i + 1 < n and i + 1 != o["hangAfter"]:
                held = (line, value)
            else:
                self.send(conn, chunk(line), (value,))


def main(argv: "list[str] | None" = None) -> int:
    """Run the emulator with Go-style flags; returns the exit status (2 for usage errors)."""
    started = time.monotonic()
    try:
        opts = parse_flags(sys.argv[1:] if argv is None else argv)
    except UsageError as e:
        sys.stderr.write((f"{e}\n" if str(e) else "") + usage())
        return 2 if str(e) else 0
    try:
        return EmulatedWorker(opts, started).run()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
