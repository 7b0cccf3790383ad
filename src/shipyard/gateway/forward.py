"""Runs inside a CLI's sandbox (standard library only; copied into the run's home): listens on the
sandbox's own loopback, passes every connection to the gateway's unix socket, starts the CLI once it
listens, and exits with the CLI's status. The sandbox has no other network.

    python3 forward.py SOCKET PORT -- CLI ARGS...
"""

import contextlib
import os
import socket
import sys
import threading


class _Link:
    """One client connection joined to one gateway connection; closed when both directions end."""

    def __init__(self, client: socket.socket, gateway: socket.socket) -> None:
        self.ends = (client, gateway)
        self.open = 2
        self.lock = threading.Lock()

    def pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
        with self.lock:
            self.open -= 1
            if self.open == 0:
                for end in self.ends:
                    end.close()


def _serve(listener: socket.socket, path: str) -> None:
    while True:
        client, _ = listener.accept()
        gateway = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            gateway.connect(path)
        except OSError:
            client.close()
            gateway.close()
            continue
        link = _Link(client, gateway)
        threading.Thread(target=link.pump, args=(client, gateway), daemon=True).start()
        threading.Thread(target=link.pump, args=(gateway, client), daemon=True).start()


def main(args: list[str]) -> int:
    path, port, dashes, *command = args
    if dashes != "--" or not command:
        print("usage: forward.py SOCKET PORT -- COMMAND...", file=sys.stderr)
        return 2
    listener = socket.create_server(("127.0.0.1", int(port)))
    pid = os.fork()  # before any thread
    if pid == 0:
        listener.close()
        try:
            os.execvp(command[0], command)
        except OSError as exc:
            print(f"cannot run {command[0]}: {exc}", file=sys.stderr)
            os._exit(127)
    threading.Thread(target=_serve, args=(listener, path), daemon=True).start()
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
