"""The GDB server: a TCP listener whose client is served by the machine's owner.

Threads (docs/gdb.md, "Threads and the owner's loop"): an accept thread waits for
connections and turns away a second client; it never touches the target. All
protocol work happens in `service()`, which the thread that owns the machine
calls between run slices, as the app's engine drains its command queue: it reads
what the client sent without blocking (or, given a timeout, waits at most that
long while the target is stopped), answers each packet through a `Handler` that
calls the target, and sends the stop reply once the target has stopped. So the
target is only ever touched by its owner, a call costs one `select` when the
client is quiet, and a packet is answered without a hand-off between threads
(what makes single-stepping fast: bench/gdb_step.py).
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable

from disco_core.errors import DiscoError
from disco_core.gdb import protocol as p
from disco_core.gdb.handler import Handler
from disco_core.gdb.target import Target

log = logging.getLogger(__name__)

SEND_TIMEOUT = 5.0  # a client that stops reading for this long is dropped
BUSY_MESSAGE = "another GDB client is attached to this target; one client at a time"


def parse_address(spec: str | int) -> tuple[str, int]:
    """`PORT`, `:PORT` or `HOST:PORT` (IPv6 as `[::1]:PORT`); loopback unless a host is given."""
    if isinstance(spec, int):
        host, port_text = "127.0.0.1", str(spec)
    else:
        host, colon, port_text = spec.rpartition(":")
        if not colon:
            host, port_text = "", spec
        host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise DiscoError(f"GDB address {spec!r}: the port {port_text!r} is not a number; "
                         "use PORT or HOST:PORT") from None
    if not 0 <= port <= 65535:
        raise DiscoError(f"GDB address {spec!r}: port {port} is not 0-65535 (0 picks a free one)")
    return host, port


class _Connection:
    """One client: its socket, its frame decoder, the ack state and the last packet sent."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = p.PacketReader()
        self.noack = False
        self.open = True
        self.last = b""

    def send_raw(self, data: bytes) -> None:
        """Send all of it; a client gone, or not reading for SEND_TIMEOUT, is dropped."""
        view = memoryview(data)
        deadline = 0.0
        while view and self.open:
            try:
                view = view[self.sock.send(view):]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self.close()
                return
            if view:
                deadline = deadline or time.monotonic() + SEND_TIMEOUT
                left = deadline - time.monotonic()
                if left <= 0:
                    self.close()
                    return
                select.select([], [self.sock], [], left)

    def send_packet(self, payload: bytes) -> None:
        self.last = p.frame(payload)
        self.send_raw(self.last)

    def receive(self) -> bytes | None:
        """What the client sent (b"" if nothing yet); None once it has gone."""
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:
            return None
        return data or None

    def close(self) -> None:
        if self.open:
            self.open = False
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()


class GdbServer:
    """Serves one target to one GDB client at a time.

    `start()` binds (port 0 picks a free port: read `.port`); the machine's owner
    then calls `service()` between run slices, with a timeout while the target is
    stopped so that it sleeps until the client sends something.
    """

    def __init__(self, target: Target, address: str | int = 0) -> None:
        self.target = target
        self.host, self._requested_port = parse_address(address)
        self.port = 0
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()  # guards _conn between the accept thread and the owner
        self._conn: _Connection | None = None
        self._handler: Handler | None = None
        self._handler_conn: _Connection | None = None
        self._threads: list[threading.Thread] = []
        self.clients = 0  # clients served so far

    # ---- lifecycle ----------------------------------------------------------------

    def start(self) -> GdbServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError as e:
            sock.close()
            raise DiscoError(f"GDB server: cannot listen on {self.host}:{self._requested_port}: "
                             f"{e.strerror}") from None
        sock.listen(2)
        self.port = sock.getsockname()[1]
        self._listener = sock
        self._spawn(self._accept_loop, "gdb-accept")
        log.info("GDB server listening on %s", self.address)
        return self

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def attached(self) -> bool:
        """A client is connected (and has not detached)."""
        with self._lock:
            return self._conn is not None and self._conn.open

    @property
    def waiting_for_stop(self) -> bool:
        """The client resumed the target and waits for it to stop."""
        h = self._handler
        return h is not None and h.running

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        for t in self._threads:
            t.join(timeout=2.0)

    def __enter__(self) -> GdbServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self, fn: Callable[..., None], name: str, *args: object) -> None:
        t = threading.Thread(target=fn, args=args, name=name, daemon=True)
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    # ---- the accept thread --------------------------------------------------------------

    def _accept_loop(self) -> None:
        while True:
            listener = self._listener
            if listener is None:
                return
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)  # the owner reads and writes it without waiting
            conn = _Connection(sock)
            if not self._take(conn):
                self._spawn(self._second_client, "gdb-second", conn)

    def _take(self, conn: _Connection) -> bool:
        with self._lock:
            if self._conn is not None and self._conn.open:
                return False
            self._conn = conn
        return True

    def _second_client(self, conn: _Connection) -> None:
        """Serve a client that came while another was attached if that one is just
        leaving (a quick reconnect); else answer its first packet with an error."""
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            if self._take(conn):
                return
            time.sleep(0.01)
        reader = p.PacketReader()
        try:
            conn.sock.settimeout(1.0)  # this thread may wait: it serves no target
            while conn.open:
                data = conn.sock.recv(4096)
                if not data:
                    break
                if any(f.kind == p.FrameKind.PACKET for f in reader.feed(data)):
                    conn.send_raw(b"+")
                    conn.send_packet(b"E." + BUSY_MESSAGE.encode())
                    break
        except OSError:
            pass
        conn.close()

    # ---- the owner's side ---------------------------------------------------------------

    def service(self, timeout: float = 0.0) -> bool:
        """Answer what the client sent and report a stop; True if anything was done.

        Call it between run slices on the thread that owns the machine. With a
        timeout it first waits up to that long for the client to send something
        (or for a client to connect).
        """
        if timeout > 0:
            wait([self], timeout)
        with self._lock:
            conn = self._conn
        if conn is None:
            return False
        if conn is not self._handler_conn:
            self._handler = Handler(self.target, on_noack=lambda: setattr(conn, "noack", True))
            self._handler_conn = conn
            self.clients += 1
        h = self._handler
        assert h is not None
        did = False
        data = conn.receive() if conn.open else None
        if data is None:
            if not h.closed:
                h.detach()  # a vanished client is a detach: the machine runs on
            self._drop(conn)
            return True
        for f in conn.reader.feed(data):
            did = True
            self._frame(conn, h, f)
            if h.closed:
                self._drop(conn)
                return True
        if h.running:
            reply = h.poll()
            if reply is not None:
                conn.send_packet(reply)
                did = True
        return did

    def _frame(self, conn: _Connection, h: Handler, f: p.Frame) -> None:
        kind = f.kind
        if kind == p.FrameKind.ACK:
            return
        if kind == p.FrameKind.NAK:
            conn.send_raw(conn.last)  # our last packet was garbled: send it again
            return
        if kind == p.FrameKind.INTERRUPT:
            h.interrupt()
            return
        if not conn.noack:
            if kind == p.FrameKind.BAD_CHECKSUM:
                conn.send_raw(b"-")  # the client sends it again
                return
            conn.send_raw(b"+")
        if kind == p.FrameKind.OVERLONG:
            replies = [p.error(p.Errno.TOO_LONG)]
        elif kind != p.FrameKind.PACKET:
            replies = [p.error(p.Errno.MALFORMED)]
        else:
            try:
                replies = h.handle(p.parse(f.payload))
            except p.ProtocolError:
                replies = [p.error(p.Errno.MALFORMED)]
            except Exception:  # a bug of ours must not take the simulation down with it
                log.exception("GDB server: packet %r failed", f.payload[:80])
                replies = [p.error(p.Errno.INVALID)]
        for r in replies:
            conn.send_packet(r)

    def _waitable(self) -> socket.socket | None:
        """What to wait on for this server's next event: its client, else its listener."""
        with self._lock:
            conn = self._conn
        if conn is not None and conn.open:
            return conn.sock
        return self._listener

    def _drop(self, conn: _Connection) -> None:
        conn.close()
        with self._lock:
            if self._conn is conn:
                self._conn = None
        self._handler = None
        self._handler_conn = None


def wait(servers: Iterable[GdbServer], timeout: float) -> None:
    """Sleep until a client of one of the servers sends something (or connects), at
    most `timeout` seconds: for an owner whose targets are all held, between rounds
    of `service()` calls (a session with a server per VM)."""
    socks = [s for s in (server._waitable() for server in servers) if s is not None]
    if not socks:
        time.sleep(timeout)
        return
    try:
        select.select(socks, [], [], timeout)
    except (OSError, ValueError):  # a socket closed meanwhile: the next service() sees it
        pass
