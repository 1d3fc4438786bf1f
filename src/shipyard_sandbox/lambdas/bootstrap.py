"""The child side of one Lambda invocation: import the handler, call it, write the outcome.

Run as a script, stdlib only (it must not import the sandbox):
    python -s -u bootstrap.py HANDLER EVENT_FILE RESULT_FILE REQUEST_ID INVOKED_ARN DEADLINE_MS
with the function's unpacked code as the working directory. The script's own folder is
replaced on sys.path by the code folder, so the handler sees its package first, as
/var/task is on Lambda. The outcome (JSON) goes to RESULT_FILE: either `payload` (the handler's
return value as JSON text) or `error` in the shape AWS's Python runtime answers with, plus
`log` (the `[ERROR]` block the runtime prints), `init_ms` and `max_rss_kb`.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
import traceback


class LambdaContext:
    """The attributes and method AWS's Python runtime gives a handler's `context`."""

    def __init__(self, request_id: str, invoked_arn: str, deadline_ms: int) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = invoked_arn
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = request_id
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


class HandlerError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def load(handler: str):
    module_name, _, function_name = handler.rpartition(".")
    if not module_name or not function_name:
        raise HandlerError("Runtime.MalformedHandlerName",
                           f"Bad handler '{handler}': not enough values to unpack "
                           "(expected 2, got 1)")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        raise HandlerError("Runtime.ImportModuleError",
                           f"Unable to import module '{module_name}': {error}") from None
    except SyntaxError as error:
        raise HandlerError("Runtime.UserCodeSyntaxError",
                           f"Syntax error in module '{module_name}': {error}") from None
    function = getattr(module, function_name, None)
    if function is None:
        raise HandlerError("Runtime.HandlerNotFound",
                           f"Handler '{function_name}' missing on module '{module_name}'")
    return function


def error_of(error: BaseException, request_id: str) -> tuple[dict, str]:
    """The payload and the `[ERROR]` log block AWS's Python runtime gives for `error`."""
    if isinstance(error, HandlerError):
        error_type, message, frames = error.error_type, error.message, []
    else:
        error_type, message = type(error).__name__, str(error)
        # The bootstrap's own frame is not the user's: drop it, as the runtime drops its own.
        tb = error.__traceback__.tb_next if error.__traceback__ else None
        frames = traceback.format_list(traceback.extract_tb(tb))
    payload = {"errorMessage": message, "errorType": error_type, "requestId": request_id,
               "stackTrace": frames}
    log = f"[ERROR] {error_type}: {message}\nTraceback (most recent call last):\n" + "".join(
        frames)
    return payload, log.rstrip("\n")


def main() -> None:
    handler, event_file, result_file, request_id, invoked_arn, deadline_ms = sys.argv[1:7]
    sys.path[0] = os.getcwd()
    outcome: dict = {}
    started = time.monotonic()
    try:
        function = load(handler)
        outcome["init_ms"] = (time.monotonic() - started) * 1000
        with open(event_file, "rb") as handle:
            event = json.load(handle)
        result = function(event, LambdaContext(request_id, invoked_arn, int(deadline_ms)))
        try:
            outcome["payload"] = json.dumps(result)
        except (TypeError, ValueError) as error:
            raise HandlerError("Runtime.MarshalError",
                               f"Unable to marshal response: {error}") from None
    except Exception as error:  # every handler failure is reported, as AWS does
        outcome["error"], outcome["log"] = error_of(error, request_id)
    outcome.setdefault("init_ms", (time.monotonic() - started) * 1000)
    outcome["max_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.flush()
    with open(result_file, "w") as handle:
        json.dump(outcome, handle)


if __name__ == "__main__":
    main()
