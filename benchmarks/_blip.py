"""A PostgreSQL restart, as the mailer's processes see it, without restarting a shared server: a TCP
proxy in front of it that, on cut(), drops every open connection and refuses new ones for a while."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time


class Blip:
    def __init__(self, target_port: int, host: str = "127.0.0.1"):
        self.target = (host, target_port)
        self.listener = socket.create_server((host, 0))
        self.port = self.listener.getsockname()[1]
        self.down_until = 0.0
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, database_url: str, target_port: int) -> str:
        return database_url.replace(f":{target_port}/", f":{self.port}/", 1)

    def cut(self, seconds: float) -> None:
        """Every connection dropped now, and none taken for `seconds` (a server restarting)."""
        self.down_until = time.monotonic() + seconds
        with self.lock:
            doomed, self.open = self.open, set()
        for (
            sock
        ) in doomed:  # shut, not closed: the pair's own thread closes it once it sees the end
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """No more connections taken, and every open one dropped."""
        self.cut(0)
        with contextlib.suppress(OSError):
            self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            if time.monotonic() < self.down_until:
                client.close()  # refused, as by a server not yet up
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open.update((client, upstream))
            threading.Thread(target=self._pair, args=(client, upstream), daemon=True).start()

    def _pair(self, client: socket.socket, upstream: socket.socket) -> None:
        """Both directions in one thread, so that a socket is closed by the only thread reading it."""
        peer = {client: upstream, upstream: client}
        try:
            while True:
                readable, _, _ = select.select([client, upstream], [], [])
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peer[sock].sendall(data)
        except OSError:
            pass
        finally:
            with self.lock:
                self.open.difference_update((client, upstream))
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
