"""The GDB server: a TCP listener whose client is served by the machine's owner.

Threads (docs/gdb.md, "Threads"): an accept thread and, per client, a reader
thread do all the waiting on sockets. The reader decodes frames, acknowledges
packets and answers `-` by resending; everything else goes on a queue. The
thread that owns the machine calls `service()` between run slices (as the app's
engine drains its command queue): it parses the queued packets, calls the
target through a `Handler` and sends the replies, then sends the stop reply once
the target has stopped. So the target is only ever touched by its owner, and the
owner never waits on the network beyond a bounded send.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from dataclasses import dataclass

from disco_core.errors import DiscoError
from disco_core.gdb import protocol as p
from disco_core.gdb.handler import Handler
from disco_core.gdb.target import Target

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


@dataclass
class _Item:
    """What a reader thread hands the owner: a frame, or the end of the connection."""

    conn: _Connection
    frame: p.Frame | None  # None: the client is gone


class _Connection:
    """One client socket: sends (from both threads, under a lock) and the ack state."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.noack = False
        self.open = True
        self._lock = threading.Lock()
        self._last = b""

    def send_raw(self, data: bytes) -> None:
        with self._lock:
            if not self.open:
                return
            try:
                self.sock.sendall(data)
            except OSError:
                self._close_locked()

    def send_packet(self, payload: bytes) -> None:
        framed = p.frame(payload)
        with self._lock:
            self._last = framed
        self.send_raw(framed)

    def resend(self) -> None:
        with self._lock:
            last = self._last
        if last:
            self.send_raw(last)

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
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
    then calls `service()` between run slices, and may pass a timeout to sleep
    until the client sends something while the target is stopped.
    """

    def __init__(self, target: Target, address: str | int = 0) -> None:
        self.target = target
        self.host, self._requested_port = parse_address(address)
        self.port = 0
        self._listener: socket.socket | None = None
        self._inbox: queue.Queue[_Item] = queue.Queue()
        self._lock = threading.Lock()
        self._conn: _Connection | None = None
        self._handler: Handler | None = None
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
            conn = self._conn
        if conn is not None:
            conn.close()
        for t in self._threads:
            t.join(timeout=2.0)

    def __enter__(self) -> GdbServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self, fn: object, name: str, *args: object) -> None:
        t = threading.Thread(target=fn, args=args, name=name, daemon=True)  # type: ignore[arg-type]
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    # ---- the network side (its own threads) ------------------------------------------

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
            sock.settimeout(SEND_TIMEOUT)
            conn = _Connection(sock)
            with self._lock:
                busy = self._conn is not None and self._conn.open
                if not busy:
                    self._conn = conn
            if busy:
                self._spawn(self._second_client, "gdb-second", conn)
            else:
                self._spawn(self._read_loop, "gdb-reader", conn)

    def _second_client(self, conn: _Connection) -> None:
        """Serve a client that came while another was attached if that one is just
        leaving (a quick reconnect); else answer its first packet with an error."""
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            with self._lock:
                old = self._conn
                if old is None or not old.open:
                    self._conn = conn
                    break
            time.sleep(0.01)
        else:
            self._refuse(conn)
            return
        self._read_loop(conn)

    def _refuse(self, conn: _Connection) -> None:
        reader = p.PacketReader()
        try:
            conn.sock.settimeout(1.0)
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

    def _read_loop(self, conn: _Connection) -> None:
        reader = p.PacketReader()
        while conn.open:
            try:
                data = conn.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            for f in reader.feed(data):
                if f.kind == p.FrameKind.ACK:
                    continue
                if f.kind == p.FrameKind.NAK:
                    conn.resend()
                    continue
                if f.kind == p.FrameKind.BAD_CHECKSUM and not conn.noack:
                    conn.send_raw(b"-")  # the client sends it again
                    continue
                if f.kind != p.FrameKind.INTERRUPT and not conn.noack:
                    conn.send_raw(b"+")
                self._inbox.put(_Item(conn, f))
        conn.close()  # at once, so that a reconnecting client is not taken for a second one
        self._inbox.put(_Item(conn, None))

    # ---- the owner's side ---------------------------------------------------------------

    def service(self, timeout: float = 0.0) -> bool:
        """Handle what the client sent and report a stop; True if anything was done.

        Call it between run slices on the thread that owns the machine. With a
        timeout it first sleeps up to that long for the client to send something.
        """
        did = False
        try:
            item: _Item | None = self._inbox.get(timeout=timeout) if timeout > 0 else None
        except queue.Empty:
            item = None
        while True:
            if item is None:
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    break
            self._serve(item)
            item, did = None, True
        h = self._handler
        if h is not None and h.running:
            reply = h.poll()
            if reply is not None and self._conn is not None:
                self._conn.send_packet(reply)
                did = True
        return did

    def _serve(self, item: _Item) -> None:
        conn = item.conn
        with self._lock:
            current = self._conn is conn
        if not current:
            return  # left over from a client that is gone
        if self._handler is None or self._handler_conn is not conn:
            self._handler = Handler(self.target, on_noack=lambda: setattr(conn, "noack", True))
            self._handler_conn = conn
            self.clients += 1
        h = self._handler
        if item.frame is None:
            if not h.closed:
                h.detach()  # a vanished client is a detach: the machine runs on
            self._drop(conn)
            return
        kind = item.frame.kind
        if kind == p.FrameKind.INTERRUPT:
            h.interrupt()
            return
        if kind == p.FrameKind.OVERLONG:
            replies = [p.error(p.Errno.TOO_LONG)]
        elif kind != p.FrameKind.PACKET:
            replies = [p.error(p.Errno.MALFORMED)]
        else:
            try:
                replies = h.handle(p.parse(item.frame.payload))
            except p.ProtocolError:
                replies = [p.error(p.Errno.MALFORMED)]
        for r in replies:
            conn.send_packet(r)
        if h.closed:
            self._drop(conn)

    _handler_conn: _Connection | None = None

    def _drop(self, conn: _Connection) -> None:
        conn.close()
        with self._lock:
            if self._conn is conn:
                self._conn = None
        self._handler = None
        self._handler_conn = None
