"""``python -m lmbridge.testing serve`` on a port already taken."""

from __future__ import annotations

import socket
import subprocess
import sys


def test_a_busy_port_is_one_line_and_a_failure_status() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "lmbridge.testing", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert f"127.0.0.1:{port} is already in use" in done.stderr
    assert "--port 0" in done.stderr
    assert "Traceback" not in done.stderr
