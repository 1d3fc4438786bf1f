"""Runs Lambda invocations as subprocesses of the sandbox.

One invocation is one fresh process (`bootstrap.py` under the sandbox's own Python), started in
a session of its own so that it and anything it spawns are killed together: at its timeout,
after it returns (Lambda freezes what is left; here it ends), and on `stop()`. Code is unpacked
once per CodeSha256 under STATE/lambda/code/. Event invocations wait in a bounded queue for a
small pool of workers. Each running invocation is recorded for `runtime.leftovers`, so a
sandbox started after one that crashed ends what that one left running.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shipyard_sandbox.lambdas.addresses import LocalAddresses, rewrite_environment
from shipyard_sandbox.lambdas.logs import InvocationLog, now_ms, timestamp
from shipyard_sandbox.runtime import leftovers

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
PYTHON_RUNTIMES = ("python3.9", "python3.10", "python3.11", "python3.12", "python3.13")
MAX_TIMEOUT = 900  # seconds, Lambda's maximum
MAX_UNZIPPED = 262_144_000  # bytes, Lambda's limit for an unzipped package
MAX_RUNNING = 8  # invocations running at once (synchronous ones beyond this are throttled)
EVENT_WORKERS = 2
EVENT_QUEUE = 100
RESPONSE_LIMIT = 6_291_556  # bytes of result Lambda returns (its error message's figure)
OUTPUT_LINE_LIMIT = 256 * 1024  # one printed line is cut here
REAP_WAIT = 5.0  # seconds to wait for a killed process group to be gone


class InvokeRefused(Exception):
    """Invoke answers an API error instead of running: (code, HTTP status, message)."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


@dataclass(frozen=True)
class FunctionSnapshot:
    """What one invocation needs of a function, taken when Invoke is called."""

    account_id: str
    region: str
    name: str
    version: str
    arn: str
    handler: str
    runtime: str
    package_type: str
    timeout: int
    memory_mb: int
    environment: dict[str, str]
    role: str
    code: bytes
    code_sha256: str  # hex


@dataclass
class InvokeResult:
    status: int  # 200 (RequestResponse), 202 (Event), 204 (DryRun)
    payload: bytes = b""
    function_error: str | None = None  # "Unhandled" when the handler failed
    log_tail: bytes = b""
    executed_version: str = "$LATEST"
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def json(self):
        return json.loads(self.payload) if self.payload else None


class LambdaRunner:
    def __init__(self, state_dir: Path, *, aws_endpoint: str,
                 credentials: Callable[[FunctionSnapshot], dict[str, str]],
                 local_addresses: Callable[[], LocalAddresses] = LocalAddresses) -> None:
        self.local_addresses = local_addresses  # asked at each invocation: listeners change
        self.code_root = state_dir / "lambda" / "code"
        self.run_root = state_dir / "lambda" / "run"
        self.aws_endpoint = aws_endpoint
        self.credentials = credentials
        # What a sandbox killed mid-invocation left running ends before anything new starts.
        leftovers.reap(self.run_root)
        self._lock = threading.Lock()
        self._code_lock = threading.Lock()
        self._running: dict[int, subprocess.Popen] = {}
        self._slots = threading.BoundedSemaphore(MAX_RUNNING)
        self._events: queue.Queue = queue.Queue(EVENT_QUEUE)
        self._stopping = threading.Event()
        self._workers = [threading.Thread(target=self._work, daemon=True, name=f"lambda-{i}")
                         for i in range(EVENT_WORKERS)]
        for worker in self._workers:
            worker.start()

    # --- API ---------------------------------------------------------------------------------

    @staticmethod
    def check(fn: FunctionSnapshot) -> None:
        """Refuse, as Invoke does, what the sandbox cannot run."""
        if fn.package_type != "Zip" or fn.runtime not in PYTHON_RUNTIMES:
            kind = fn.runtime if fn.package_type == "Zip" else f"package type {fn.package_type}"
            raise InvokeRefused(
                "InvalidRuntimeException", 502,
                f"The runtime parameter of {kind} is not supported by this sandbox: it runs "
                f"zip packages for {', '.join(PYTHON_RUNTIMES)} only.")

    def invoke(self, fn: FunctionSnapshot, event: bytes, invoked_arn: str) -> InvokeResult:
        """Run the handler now and wait for it (RequestResponse)."""
        self.check(fn)
        if self._stopping.is_set() or not self._slots.acquire(blocking=False):
            raise InvokeRefused("TooManyRequestsException", 429, "Rate Exceeded.")
        try:
            return self._run(fn, event, invoked_arn)
        finally:
            self._slots.release()

    def submit(self, fn: FunctionSnapshot, event: bytes, invoked_arn: str) -> InvokeResult:
        """Queue the invocation (Event); it runs when a worker is free."""
        self.check(fn)
        result = InvokeResult(202, executed_version=fn.version)
        try:
            if self._stopping.is_set():
                raise queue.Full
            self._events.put_nowait((fn, event, invoked_arn, result.request_id))
        except queue.Full:
            raise InvokeRefused("TooManyRequestsException", 429, "Rate Exceeded.") from None
        return result

    def stop(self) -> None:
        self._stopping.set()
        for _ in self._workers:
            with contextlib.suppress(queue.Full):
                self._events.put_nowait(None)
        with self._lock:
            processes = list(self._running.values())
        for process in processes:
            _kill_group(process)
        for worker in self._workers:
            worker.join(timeout=REAP_WAIT)

    # --- inside ------------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stopping.is_set():
            item = self._events.get()
            if item is None or self._stopping.is_set():
                return
            fn, event, invoked_arn, request_id = item
            # An Event invocation's failure is only in its log, as on Lambda.
            with self._slots, contextlib.suppress(Exception):
                self._run(fn, event, invoked_arn, request_id)

    def _run(self, fn: FunctionSnapshot, event: bytes, invoked_arn: str,
             request_id: str | None = None) -> InvokeResult:
        request_id = request_id or str(uuid.uuid4())
        code_dir = self._unpacked(fn)
        log = InvocationLog(request_id, fn.version, account_id=fn.account_id, region=fn.region,
                            group=f"/aws/lambda/{fn.name}")
        run_dir = self.run_root / request_id
        run_dir.mkdir(parents=True)
        try:
            (run_dir / "event.json").write_bytes(event)
            timeout = max(1, min(int(fn.timeout or 3), MAX_TIMEOUT))
            started_ms, started = now_ms(), time.monotonic()
            command = [sys.executable, "-s", "-u", str(BOOTSTRAP), fn.handler,
                       str(run_dir / "event.json"), str(run_dir / "result.json"), request_id,
                       invoked_arn, str(started_ms + timeout * 1000)]
            process = subprocess.Popen(
                command, cwd=code_dir, env=self._environment(fn, code_dir, run_dir, log.stream),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True)
            leftovers.record(run_dir / f"bootstrap{leftovers.SUFFIX}", process.pid)
            with self._lock:
                self._running[process.pid] = process
            if self._stopping.is_set():  # stop() may have swept just before this one started
                _kill_group(process)
            reader = threading.Thread(target=_read_lines, args=(process, log), daemon=True)
            reader.start()
            try:
                process.wait(timeout=timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            duration_ms = (time.monotonic() - started) * 1000
            _kill_group(process)
            reader.join(timeout=REAP_WAIT)
            with self._lock:
                self._running.pop(process.pid, None)
            outcome = _outcome(run_dir / "result.json")
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
        result = self._result(fn, log, request_id, outcome, timed_out=timed_out,
                              timeout=timeout, exit_code=process.returncode)
        log.finish(duration_ms=duration_ms, memory_mb=fn.memory_mb,
                   max_used_mb=(outcome["max_rss_kb"] // 1024 if "max_rss_kb" in outcome
                                else None),
                   init_ms=outcome.get("init_ms"), timed_out=timed_out)
        result.log_tail = log.tail()
        return result

    def _result(self, fn: FunctionSnapshot, log: InvocationLog, request_id: str, outcome: dict,
                *, timed_out: bool, timeout: int, exit_code: int | None) -> InvokeResult:
        result = InvokeResult(200, executed_version=fn.version, request_id=request_id)
        if timed_out:
            message = f"Task timed out after {timeout:.2f} seconds"
            log.add(f"{timestamp(now_ms())} {request_id} {message}", platform=True)
            error = {"errorType": "Sandbox.Timedout",
                     "errorMessage": f"RequestId: {request_id} Error: {message}"}
        elif "payload" in outcome and len(outcome["payload"]) > RESPONSE_LIMIT:
            error = {"errorMessage": "Response payload size exceeded maximum allowed payload "
                                     f"size ({RESPONSE_LIMIT} bytes).",
                     "errorType": "Function.ResponseSizeTooLarge"}
        elif "payload" in outcome:
            result.payload = outcome["payload"].encode()
            return result
        elif "error" in outcome:
            log.add(outcome["log"], platform=True)
            error = outcome["error"]
        else:
            # The process died without a word (os._exit, a signal, out of memory).
            cause = (f"signal: {(signal.strsignal(-exit_code) or str(-exit_code)).lower()}"
                     if exit_code is not None and exit_code < 0 else f"exit status {exit_code}")
            message = f"Runtime exited with error: {cause}"
            log.add(f"RequestId: {request_id} Error: {message}", platform=True)
            error = {"errorType": "Runtime.ExitError",
                     "errorMessage": f"RequestId: {request_id} Error: {message}"}
        result.payload = json.dumps(error).encode()
        result.function_error = "Unhandled"
        return result

    def _environment(self, fn: FunctionSnapshot, code_dir: Path, run_dir: Path,
                     stream: str) -> dict[str, str]:
        """The function's variables, then Lambda's reserved ones (which win, as on Lambda),
        and the sandbox as the only AWS endpoint; nothing of the sandbox's own environment.
        Load balancer and ECR names in the variables point at the sandbox (`addresses`)."""
        environment = rewrite_environment(fn.environment, self.local_addresses())
        environment.update({
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "_HANDLER": fn.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.name,
            "AWS_LAMBDA_FUNCTION_VERSION": fn.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "LAMBDA_TASK_ROOT": str(code_dir),
            "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
            # The machine's own AWS configuration must not reach the handler's SDK.
            "AWS_CONFIG_FILE": str(run_dir / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(run_dir / "no-credentials"),
            **self.credentials(fn),
        })
        return environment

    def _unpacked(self, fn: FunctionSnapshot) -> Path:
        """The function's code as a folder, unpacked once per CodeSha256."""
        target = self.code_root / (fn.code_sha256 or "empty")
        with self._code_lock:
            if target.is_dir():
                return target
            partial = target.with_name(target.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            try:
                if fn.code:
                    with zipfile.ZipFile(io.BytesIO(fn.code)) as archive:
                        if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED:
                            raise zipfile.BadZipFile("unzipped size over Lambda's limit")
                        archive.extractall(partial)  # refuses absolute and '..' names
            except (zipfile.BadZipFile, OSError, ValueError) as error:
                shutil.rmtree(partial, ignore_errors=True)
                raise InvokeRefused("InvalidZipFileException", 502,
                                    f"Lambda could not unzip the deployment package: {error}"
                                    ) from None
            partial.rename(target)
            return target


def _read_lines(process: subprocess.Popen, log: InvocationLog) -> None:
    """Each line the handler prints becomes a log event, stamped when it was printed."""
    assert process.stdout is not None
    for raw in iter(lambda: process.stdout.readline(OUTPUT_LINE_LIMIT), b""):
        log.add(raw.decode(errors="replace").rstrip("\n"))
    process.stdout.close()


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the invocation's session: the handler and whatever it started."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=REAP_WAIT)


def _outcome(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def code_sha256_hex(code_sha256_b64: str) -> str:
    return base64.b64decode(code_sha256_b64).hex() if code_sha256_b64 else ""
