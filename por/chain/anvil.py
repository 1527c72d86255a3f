"""Start and stop a local Anvil node from the project's node_modules.

Used by the tests (one node per fixture, xdist-safe), the demo and the benchmarks. Anvil
listens on port 0 and we read the port it chose from its log, so two workers never race
for the same port. The node runs in its own process group and is killed on exit.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from por.chain.errors import ChainError

__all__ = ["ANVIL_START_TIMEOUT_S", "Anvil", "find_anvil"]

ANVIL_START_TIMEOUT_S = 20.0
_LISTENING = re.compile(rb"Listening on ([0-9.]+):(\d+)")
_REPO = Path(__file__).resolve().parents[2]


def find_anvil() -> Path:
    """The Anvil binary installed by `scripts/setup` (npm `@foundry-rs/anvil`).

    Prefers the platform binary over the node wrapper so that only one process is started.
    `POR_ANVIL` overrides the path.
    """
    override = os.environ.get("POR_ANVIL")
    if override:
        return Path(override)
    binaries = sorted((_REPO / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil"))
    if binaries:
        return binaries[0]
    wrapper = _REPO / "node_modules" / ".bin" / "anvil"
    if wrapper.exists():
        return wrapper
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise ChainError("anvil not found: run scripts/setup (installs @foundry-rs/anvil from npm)")


class Anvil:
    """A running Anvil node; use as a context manager.

    `slots_in_an_epoch=1` makes the `finalized` tag lag the head by only 2 blocks (Anvil
    reports finalized = head - 2 * slots_in_an_epoch), which keeps tests short.
    """

    def __init__(
        self,
        *,
        slots_in_an_epoch: int = 1,
        chain_id: int = 31337,
        timestamp: int | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self._args = [
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--slots-in-an-epoch",
            str(slots_in_an_epoch),
            "--chain-id",
            str(chain_id),
            "--disable-block-gas-limit",
            *(["--timestamp", str(timestamp)] if timestamp is not None else []),
            *extra_args,
        ]
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The node's HTTP JSON-RPC endpoint."""
        if not self.port:
            raise ChainError("anvil is not running")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Anvil:
        """Start the node and wait until it listens."""
        self._dir = tempfile.TemporaryDirectory(prefix="por-anvil-")
        log_path = Path(self._dir.name) / "anvil.log"
        with open(log_path, "wb") as log:
            self._proc = subprocess.Popen(
                [str(find_anvil()), *self._args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + ANVIL_START_TIMEOUT_S
        while time.monotonic() < deadline:
            text = log_path.read_bytes()
            match = _LISTENING.search(text)
            if match:
                self.port = int(match.group(2))
                return self
            if self._proc.poll() is not None:
                self.stop()
                tail = text.decode(errors="replace")[-500:]
                raise ChainError(f"anvil exited with code {self._proc.returncode}: {tail}")
            time.sleep(0.02)
        self.stop()
        raise ChainError(f"anvil did not listen within {ANVIL_START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        """Kill the node's process group (idempotent)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
        self.port = 0

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
