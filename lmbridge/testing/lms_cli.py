"""A simulated ``lms`` executable over the simulated LM Studio's state.

Run it as ``python -m lmbridge.testing.lms_cli ...`` or through the wrapper script that
:func:`lmbridge.testing.simulated_lms.install_simulated_lms` writes. It reads the simulator's URL
from ``LMBRIDGE_SIM_URL`` and talks to its control endpoints (``/__sim__/...``) over HTTP.

It reproduces the real CLI's awkward parts, which is the point: ``load`` always creates a new
instance, matches keys fuzzily (with ``-y`` the first fuzzy candidate wins silently; without it an
interactive picker waits on stdin and fails on end-of-file), draws a spinner with ANSI codes and
``\\r`` on stdout, reports success in prose on stderr, and ``unload`` of an unknown identifier
exits 0. ``load --estimate-only`` logs LM Studio's estimate on stderr as the real CLI does (the
model's size; the guardrails' verdict against the memory free now), and ``runtime survey --json``
reports the simulator's memory limit as the machine's total memory.

Quirk switches come from ``GET /__sim__/cli-config`` (set by tests):

- ``hang``: block forever (until killed) after recording the call;
- ``unreachable``: fail like an LM Studio that cannot be started;
- ``omit_status``: ``ps --json`` without ``status``/``queued`` (lms before 0.3.27);
- ``log_prefix``: log text (``true`` or the text itself) printed on stdout before JSON;
- ``load_seconds`` / ``progress_steps``: the spinner's duration and number of steps;
- ``spinner_percent``: ``false`` draws the spinner of CLIs before 2026-05, ``Loading <key>`` with
  no percentage;
- ``elapsed_ms``: the load time the success line reports (formatted like the real CLI's
  ``formatElapsedTime``: ``850.00ms``, ``6.88s``, ``1m 5.23s``);
- ``device``: loads happen on this LM Link device (``Loading <key> on <device>``, ``loaded
  successfully on <device> in ...``), and ``ps``/``ls`` rows carry it as ``deviceIdentifier``;
- ``oom_gb``: loads fail with "requires approximately <oom_gb> GB";
- ``load_error``: loads fail with this text (e.g. 0.4.4's "Not enough resources to load the model
  with the current settings");
- ``server_not_running``: ``server status`` says the server is not running (as the real CLI does
  when its 500 ms probe of a busy LM Studio times out), still naming the port it knows.

``hang`` and ``unreachable`` are ``true`` for every command, or a command name / list of names
(``"load"``, ``["ps", "ls"]``) to affect only those.

Only the standard library is imported, so that each call starts quickly.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO
from urllib.parse import urlsplit

__all__ = ["ENV_URL", "main"]

ENV_URL = "LMBRIDGE_SIM_URL"
VERSION = "0.3.43"
UNREACHABLE = "Failed to start or connect to local LM Studio API server."
WAKING = "Waking up LM Studio service..."
DEFAULT_LOG_PREFIX = "\x1b[90m[LMStudioClient]\x1b[0m Connecting to LM Studio...\n"
SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

Json = dict[str, Any]


class _Exit(Exception):
    """Ends the program with an exit status (after its message was printed)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _say(stream: TextIO, text: str) -> None:
    stream.write(text)
    stream.flush()


def _fail(message: str, code: int = 1) -> NoReturn:
    _say(sys.stderr, f"Error: {message}\n")
    raise _Exit(code)


def _pause(seconds: float) -> None:
    # This program is synchronous and single-threaded: blocking is what it should do here.
    threading.Event().wait(seconds)


def _hang_forever() -> NoReturn:
    while True:
        _pause(3600)


def _applies(switch: object, command: str) -> bool:
    if isinstance(switch, str):
        return switch == command
    if isinstance(switch, list):
        return command in switch
    return bool(switch)


class _Response:
    """The status and decoded JSON body of one control request."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status_code = status
        self.text = body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.text)


class _Simulator:
    """The control endpoints of the simulated LM Studio.

    Plain ``http.client``: importing and setting up httpx would double this program's start-up time,
    and it runs once per simulated ``lms`` call.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            _fail(f"{ENV_URL} must be an http:// URL, not {url!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._prefix = parts.path.rstrip("/")

    def _call(self, method: str, path: str, body: Json | None = None) -> _Response:
        connection = http.client.HTTPConnection(self._host, self._port, timeout=60)
        try:
            payload = None if body is None else json.dumps(body).encode()
            headers = {} if payload is None else {"Content-Type": "application/json"}
            connection.request(method, self._prefix + path, body=payload, headers=headers)
            response = connection.getresponse()
            return _Response(response.status, response.read())
        except (OSError, http.client.HTTPException):
            _say(sys.stderr, f"{WAKING}\n")
            _fail(UNREACHABLE)
        finally:
            connection.close()

    def _ok(self, response: _Response) -> Any:
        if response.status_code != 200:
            _fail(f"LM Studio answered {response.status_code}: {_error_text(response)}")
        return response.json()

    def record(self, argv: Sequence[str]) -> None:
        self._call("POST", "/__sim__/cli-calls", {"argv": list(argv)})

    def config(self) -> Json:
        response = self._call("GET", "/__sim__/cli-config")
        data = response.json() if response.status_code == 200 else {}
        return data if isinstance(data, dict) else {}

    def state(self) -> Json:
        data: Json = self._ok(self._call("GET", "/__sim__/state"))
        return data

    def load(self, body: Json) -> _Response:
        return self._call("POST", "/__sim__/load", body)

    def download(self, body: Json) -> _Response:
        return self._call("POST", "/__sim__/download", body)

    def unload(self, body: Json) -> list[str]:
        data = self._ok(self._call("POST", "/__sim__/unload", body))
        return [str(item) for item in data.get("unloaded", [])]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lms", description="LM Studio CLI (simulated)")
    commands = parser.add_subparsers(dest="command", required=True)

    ps = commands.add_parser("ps", help="list loaded models")
    ps.add_argument("--json", action="store_true")

    ls = commands.add_parser("ls", help="list downloaded models")
    ls.add_argument("--json", action="store_true")
    kind = ls.add_mutually_exclusive_group()
    kind.add_argument("--llm", action="store_true")
    kind.add_argument("--embedding", action="store_true")

    load = commands.add_parser("load", help="load a model")
    load.add_argument("key", nargs="?")
    load.add_argument("-y", "--yes", action="store_true")
    load.add_argument("--ttl", type=int)
    load.add_argument("--identifier")
    load.add_argument("-c", "--context-length", type=int, dest="context_length")
    load.add_argument("--gpu")
    load.add_argument("--parallel", type=int)
    load.add_argument("--exact", action="store_true")
    load.add_argument("--estimate-only", action="store_true", dest="estimate_only")

    get = commands.add_parser("get", help="download a model")
    get.add_argument("name", nargs="?")
    get.add_argument("-y", "--yes", action="store_true")
    get.add_argument("--gguf", action="store_true")
    get.add_argument("--mlx", action="store_true")
    get.add_argument("--select", action="store_true")

    unload = commands.add_parser("unload", help="unload a model")
    unload.add_argument("identifier", nargs="?")
    unload.add_argument("-a", "--all", action="store_true", dest="all")

    server = commands.add_parser("server", help="server commands")
    server_commands = server.add_subparsers(dest="server_command", required=True)
    status = server_commands.add_parser("status")
    status.add_argument("--json", action="store_true")

    runtime = commands.add_parser("runtime", help="runtime commands")
    runtime_commands = runtime.add_subparsers(dest="runtime_command", required=True)
    survey = runtime_commands.add_parser("survey")
    survey.add_argument("--json", action="store_true")

    commands.add_parser("version", help="print the version")
    return parser


class _Cli:
    def __init__(self, sim: _Simulator, config: Json) -> None:
        self.sim = sim
        self.config = config

    def _log_prefix(self) -> None:
        prefix = self.config.get("log_prefix")
        if prefix:
            _say(sys.stdout, prefix if isinstance(prefix, str) else DEFAULT_LOG_PREFIX)

    # --- listing ------------------------------------------------------------------------------

    def ps(self, args: argparse.Namespace) -> int:
        loaded: list[Json] = list(self.sim.state().get("loaded", []))
        if self.config.get("omit_status"):
            loaded = [
                {k: v for k, v in row.items() if k not in {"status", "queued"}} for row in loaded
            ]
        if args.json:
            self._log_prefix()
            _say(sys.stdout, json.dumps(loaded) + "\n")
        elif not loaded:
            _say(sys.stdout, "No models are currently loaded.\n")
        else:
            lines = ["IDENTIFIER  MODEL  STATUS  CONTEXT  TTL"]
            for row in loaded:
                ttl = row.get("ttlMs")
                lines.append(
                    f"{row.get('identifier')}  {row.get('modelKey')}  "
                    f"{str(row.get('status', '')).upper()}  {row.get('contextLength')}  "
                    f"{'' if ttl is None else f'{ttl // 1000}s'}"
                )
            _say(sys.stdout, "\n".join(lines) + "\n")
        return 0

    def ls(self, args: argparse.Namespace) -> int:
        models: list[Json] = list(self.sim.state().get("downloaded", []))
        if args.llm:
            models = [m for m in models if m.get("type") == "llm"]
        if args.embedding:
            models = [m for m in models if m.get("type") == "embedding"]
        if args.json:
            self._log_prefix()
            _say(sys.stdout, json.dumps(models) + "\n")
        else:
            lines = [f"You have {len(models)} models.", ""]
            lines += [f"{m.get('modelKey')}  {m.get('paramsString', '')}" for m in models]
            _say(sys.stdout, "\n".join(lines) + "\n")
        return 0

    # --- loading ------------------------------------------------------------------------------

    def load(self, args: argparse.Namespace) -> int:
        downloaded: list[Json] = list(self.sim.state().get("downloaded", []))
        model = self._resolve(args, downloaded)
        key = str(model["modelKey"])
        if args.gpu is not None:
            _check_gpu(args.gpu)
        if args.estimate_only:
            return self._estimate(args, model)

        started = time.monotonic()
        oom_gb = self.config.get("oom_gb")
        failing = oom_gb or self.config.get("load_error")
        self._spin(key, stop_at=50 if failing else 100)
        if self.config.get("load_error"):
            _say(sys.stdout, "\r\x1b[2K\n")
            _fail(str(self.config["load_error"]))
        if oom_gb:
            _say(sys.stdout, "\r\x1b[2K\n")
            _fail(
                f'Failed to load model "{key}". Model loading aborted due to insufficient system '
                f"resources: this model requires approximately {float(oom_gb):.2f} GB of memory."
            )

        body: Json = {"model_key": key}
        if self.config.get("device"):
            body["device"] = self.config["device"]
        for name in ("identifier", "context_length", "ttl", "parallel"):
            if getattr(args, name) is not None:
                body[name] = getattr(args, name)
        response = self.sim.load(body)
        _say(sys.stdout, "\r\x1b[2K\n")
        if response.status_code == 404:
            _fail(f'Model not found: "{key}"')
        if response.status_code != 200:
            _fail(_error_text(response))
        instance: Json = response.json()["instance"]
        elapsed_ms = self.config.get("elapsed_ms")
        if elapsed_ms is None:
            elapsed_ms = (time.monotonic() - started) * 1000
        size = float(instance.get("sizeBytes") or model.get("sizeBytes") or 0)
        device = self.config.get("device")
        where = f" on {device}" if device else ""
        _say(
            sys.stderr,
            f"Model loaded successfully{where} in {_elapsed(float(elapsed_ms))}.\n"
            f"({size / 2**30:.2f} GiB)\n"
            "To use the model in the API/SDK, use the identifier "
            f'"{instance["identifier"]}".\n',
        )
        return 0

    def _estimate(self, args: argparse.Namespace, model: Json) -> int:
        # printEstimatedResourceUsage (src/subcommands/load.ts): logged on stderr, exit 0. A load
        # here needs the model's size; the verdict, like LM Studio's guardrails, is judged
        # against the memory free now.
        size = int(model.get("sizeBytes") or 0)
        memory: Json = self.sim.state().get("memory") or {}
        limit = memory.get("limit_bytes")
        passes = limit is None or size <= int(limit) - int(memory.get("used_bytes") or 0)
        lines = [f"Model: {model['modelKey']}"]
        if args.context_length is not None:
            lines.append(f"Context Length: {args.context_length:,}")
        if args.gpu is not None:
            ratio = {"max": 1.0, "off": 0.0}.get(args.gpu) or float(args.gpu)
            lines.append(f"GPU Offload: {ratio * 100:g}%")
        lines += [
            f"Estimated GPU Memory:   {_size_1024(size)}",
            f"Estimated Total Memory: {_size_1024(size)}",
            "",
            "Estimate: This model "
            + ("may be loaded" if passes else "will fail to load")
            + " based on your resource guardrails settings.",
        ]
        _say(sys.stderr, "\n".join(lines) + "\n")
        return 0

    def _resolve(self, args: argparse.Namespace, downloaded: list[Json]) -> Json:
        query: str | None = args.key
        if query is None:
            if args.yes:
                _fail("No model specified. Pass a model key, e.g. `lms load qwen/qwen3-4b`.")
            return _pick(downloaded, "Select a model to load")
        if args.exact:
            # --exact takes a model PATH and matches it exactly (src/subcommands/load.ts).
            for model in downloaded:
                if model.get("path") == query:
                    return model
            _fail(f'Model not found: No model found with path being exactly "{query}".')
        for model in downloaded:
            if model.get("modelKey") == query:
                return model
        candidates = _fuzzy(query, downloaded)
        if not candidates:
            _fail(f'Model not found: "{query}". No model found that matches this name.')
        if args.yes:
            return candidates[0]  # the real CLI picks its best fuzzy match without asking
        return _pick(candidates, f'Select a model matching "{query}"')

    def _spin(self, key: str, *, stop_at: int) -> None:
        steps = max(int(self.config.get("progress_steps") or 4), 1)
        seconds = float(self.config.get("load_seconds") or 0.0)
        device = self.config.get("device")
        text = f"Loading {key}" + (f" on {device}" if device else "")
        with_percent = self.config.get("spinner_percent", True)
        for step in range(steps + 1):
            percent = round(stop_at * step / steps)
            frame = SPINNER_FRAMES[step % len(SPINNER_FRAMES)]
            shown = f"{text} {percent}%" if with_percent else text
            _say(sys.stdout, f"\r\x1b[2K{shown} {frame}")
            if step < steps and seconds > 0:
                _pause(seconds / steps)

    # --- downloading --------------------------------------------------------------------------

    def get(self, args: argparse.Namespace) -> int:
        """``lms get <name> -y``: a catalog key (``key@quant`` picks a variant) or a link."""
        if not args.name:
            _fail("Please specify a model to download, e.g. `lms get qwen/qwen3-4b`.")
        name = str(args.name).split("@", 1)[0] if "://" not in args.name else args.name
        response = self.sim.download({"model": name})
        if response.status_code == 404:
            _fail(f"No model found matching {args.name!r}.")
        data: Json = response.json()
        if data.get("status") == "already_downloaded":
            _say(sys.stdout, f"Model already downloaded. To use, run:\nlms load {name}\n")
            return 0
        if data.get("status") == "failed":
            _fail(f"Download failed: {data.get('error')}")
        for percent in (0, 50, 100):
            _say(sys.stdout, f"\r\x1b[2K ⌛ Downloading {name} {percent}%")
        _say(sys.stdout, f"\nDownload completed. To use, run:\nlms load {data.get('key')}\n")
        return 0

    # --- unloading ----------------------------------------------------------------------------

    def unload(self, args: argparse.Namespace) -> int:
        if args.all:
            gone = self.sim.unload({"all": True})
            if not gone:
                _say(sys.stderr, "No models to unload.\n")
            for gone_identifier in gone:
                _say(sys.stderr, f'Model "{gone_identifier}" unloaded.\n')
            return 0
        identifier: str | None = args.identifier
        if identifier is None:
            loaded = list(self.sim.state().get("loaded", []))
            if not loaded:
                _say(sys.stderr, "No models to unload.\n")
                return 0
            identifier = str(_pick(loaded, "Select a model to unload")["identifier"])
        if self.sim.unload({"identifier": identifier}):
            _say(sys.stderr, f'Model "{identifier}" unloaded.\n')
        else:
            # The real CLI says so but still exits 0.
            _say(sys.stderr, f'Cannot find a model with the identifier "{identifier}".\n')
        return 0

    # --- server -------------------------------------------------------------------------------

    def runtime_survey(self, args: argparse.Namespace) -> int:
        # RuntimeHardwareSurveyResult (lmstudio-js lms-shared-types), printed whole with --json.
        # The simulated machine: no GPU, its memory the simulator's limit (1 TiB when unlimited).
        limit = (self.sim.state().get("memory") or {}).get("limit_bytes")
        ram = int(limit) if limit is not None else 2**40
        survey = {
            "status": "ok",
            "engines": [
                {
                    "name": "llama.cpp (simulated)",
                    "version": "1.0.0",
                    "engine": "llama.cpp",
                    "platform": sys.platform,
                    "compatibility": {"status": "compatible"},
                    "supportedModelFormatNames": ["gguf"],
                    "hardwareSurvey": {
                        "gpuSurveyResult": {"result": {"code": "noDevicesFound"}, "gpuInfo": []},
                        "cpuSurveyResult": {"result": {"code": "success"}},
                    },
                    "memoryInfo": {"ramCapacity": ram, "vramCapacity": 0, "totalMemory": ram},
                }
            ],
        }
        if args.json:
            _say(sys.stdout, json.dumps(survey, indent=2) + "\n")
        else:
            _say(sys.stdout, f"No GPUs detected\n\nCPU: x86_64\nRAM: {_size_1024(ram)}\n")
        return 0

    def server_status(self, args: argparse.Namespace) -> int:
        server: Json = dict(self.sim.state().get("server") or {})
        running = bool(server.get("running")) and not self.config.get("server_not_running")
        port = server.get("port")
        if args.json:
            self._log_prefix()
            # The real CLI prints JSON.stringify({running, port}): the port from its last known
            # server config, running or not; absent only when it knows none.
            status: Json = {"running": running}
            if port is not None:
                status["port"] = port
            _say(sys.stdout, json.dumps(status) + "\n")
        elif running:
            _say(sys.stdout, f"The server is running on port {port}.\n")
        else:
            _say(sys.stdout, "The server is not running.\n")
        return 0


def _elapsed(ms: float) -> str:
    """The real CLI's formatElapsedTime (src/formatElapsedTime.ts)."""
    hour, minute, second = 3_600_000.0, 60_000.0, 1000.0
    segments: list[str] = []
    started = False
    if ms >= hour:
        hours = int(ms // hour)
        segments.append(f"{hours}h")
        ms -= hours * hour
        started = True
    if ms >= minute or started:
        minutes = int(ms // minute)
        segments.append(f"{minutes}m")
        ms -= minutes * minute
        started = True
    if ms >= second or started:
        segments.append(f"{ms / second:.2f}s")
        started = True
    if not started:
        segments.append(f"{ms:.2f}ms")
    return " ".join(segments)


def _fuzzy(query: str, models: list[Json]) -> list[Json]:
    """Substring matches over key, display name and path, in listing order; then all-words matches."""
    wanted = query.lower()

    def haystack(model: Json) -> str:
        fields = ("modelKey", "displayName", "path")
        return " ".join(str(model.get(name) or "") for name in fields).lower()

    found = [m for m in models if wanted in haystack(m)]
    if found:
        return found
    words = [w for w in wanted.replace("/", " ").replace("-", " ").split() if w]
    return [m for m in models if words and all(w in haystack(m) for w in words)]


def _pick(options: list[Json], title: str) -> Json:
    """The interactive picker: waits on stdin, fails on end-of-file."""
    lines = [f"? {title} (Use arrow keys)"]
    lines += [
        f"{'❯' if i == 0 else ' '} {o.get('identifier') or o.get('modelKey')}"
        for i, o in enumerate(options)
    ]
    _say(sys.stdout, "\n".join(lines) + "\n")
    answer = sys.stdin.readline()
    if not answer:
        _fail("Prompt closed: stdin ended before a choice was made.")
    choice = answer.strip()
    if choice.isdigit() and 0 <= int(choice) < len(options):
        return options[int(choice)]
    return options[0]


def _check_gpu(value: str) -> None:
    if value in {"off", "max"}:
        return
    try:
        fraction = float(value)
    except ValueError:
        fraction = -1.0
    if not 0.0 <= fraction <= 1.0:
        _fail(f"Invalid --gpu value {value!r}: use off, max or a number between 0 and 1.")


def _size_1024(size: int) -> str:
    # formatSizeBytes1024 (lms src/formatBytes.ts), as the real CLI prints memory.
    if size <= 0:
        return "0 Bytes"
    units = ["Bytes", "KiB", "MiB", "GiB", "TiB"]
    index = 0
    while index < len(units) - 1 and size >= 1024 ** (index + 1):
        index += 1
    return f"{size / 1024**index:.{0 if index == 0 else 2}f} {units[index]}"


def _error_text(response: _Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text or f"HTTP {response.status_code}"
    if isinstance(data, dict) and "error" in data:
        error = data["error"]
        if isinstance(error, dict):
            return str(error.get("message", error))
        return str(error)
    return str(data)


def _run(argv: list[str]) -> int:
    url = os.environ.get(ENV_URL, "").rstrip("/")
    if argv[:1] == ["version"] and not url:
        _say(sys.stdout, f"lms - LM Studio CLI - v{VERSION} (simulated)\n")
        return 0
    if not url:
        _say(sys.stderr, f"{WAKING}\n")
        _fail(UNREACHABLE)
    sim = _Simulator(url)
    sim.record(argv)  # first, so even a rejected invocation is on record
    args = _parser().parse_args(argv)
    if args.command == "version":
        _say(sys.stdout, f"lms - LM Studio CLI - v{VERSION} (simulated)\n")
        return 0
    config = sim.config()
    if _applies(config.get("hang"), args.command):
        _hang_forever()
    if _applies(config.get("unreachable"), args.command):
        _say(sys.stderr, f"{WAKING}\n")
        _fail(UNREACHABLE)
    cli = _Cli(sim, config)
    if args.command == "server":
        return cli.server_status(args)
    if args.command == "runtime":
        return cli.runtime_survey(args)
    handler = {"ps": cli.ps, "ls": cli.ls, "load": cli.load, "unload": cli.unload, "get": cli.get}
    return handler[args.command](args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulated ``lms`` with ``argv`` (default: the process's arguments).

    Returns:
        The exit status.
    """
    try:
        return _run(list(sys.argv[1:] if argv is None else argv))
    except _Exit as exit_:
        return exit_.code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
