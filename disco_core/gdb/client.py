"""A minimal GDB remote protocol client: for tests, the step benchmark and scripts."""

from __future__ import annotations

import socket

from disco_core.gdb import protocol as p


class RawClient:
    """Sends packets and reads replies, acknowledging as GDB does until no-ack mode."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader = p.PacketReader(limit=1 << 20)
        self._frames: list[p.Frame] = []
        self.noack = False

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, payload: bytes) -> None:
        self.send_raw(p.frame(payload))

    def frame(self) -> p.Frame:
        """The next frame from the server (acks included); ConnectionError at its end."""
        while not self._frames:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the server closed the connection")
            self._frames += self._reader.feed(data)
        return self._frames.pop(0)

    def reply(self) -> bytes:
        """The next packet's payload, skipping acks and acknowledging it if needed."""
        while True:
            f = self.frame()
            if f.kind == p.FrameKind.PACKET:
                if not self.noack:
                    self.send_raw(b"+")
                return f.payload
            if f.kind not in (p.FrameKind.ACK, p.FrameKind.NAK):
                raise ConnectionError(f"unexpected {f.kind.value} frame from the server")

    def ask(self, payload: bytes) -> bytes:
        self.send(payload)
        return self.reply()

    def start_noack(self) -> None:
        if self.ask(b"QStartNoAckMode") == p.OK:
            self.noack = True
