"""Lambda functions run for real in the sandbox (moto's own Invoke needs docker).

CreateFunction / UpdateFunctionCode are moto's, unchanged: the zip (ZipFile, or S3Bucket/S3Key
of an object in the sandbox's S3) is stored with its CodeSha256. `Invoke` is answered by
running the handler:

- Runtimes python3.9 to python3.13, zip packages only. Every one runs under the sandbox's own
  Python (the machine's python3 in the sandbox's venv, so `boto3` imports as on Lambda), not
  the exact minor version named. Any other runtime, or an image package, is refused at Invoke
  with `InvalidRuntimeException` (HTTP 502), the error Invoke gives for a runtime it cannot run.
- One invocation is one fresh subprocess (`bootstrap.py`): the code, unpacked once per
  CodeSha256 under STATE/lambda/code/, is first on sys.path and the working directory;
  `module.function` gets the JSON event and a context (function_name, function_version,
  invoked_function_arn, memory_limit_in_mb, aws_request_id, log_group_name, log_stream_name,
  get_remaining_time_in_millis()). Environment: the function's variables, then Lambda's
  reserved ones (AWS_REGION, AWS_DEFAULT_REGION, AWS_LAMBDA_FUNCTION_NAME/VERSION/MEMORY_SIZE,
  AWS_LAMBDA_LOG_GROUP_NAME/STREAM_NAME, _HANDLER, AWS_EXECUTION_ENV, LAMBDA_TASK_ROOT),
  temporary credentials of the function's role from the sandbox's STS, and AWS_ENDPOINT_URL
  set to the sandbox, so the handler's SDK talks to the sandbox and nothing else.
- Answers as Lambda does: the return value as JSON (200); a handler exception as
  `FunctionError: Unhandled` with errorMessage/errorType/requestId/stackTrace, and import or
  handler-name failures as `Runtime.ImportModuleError` / `Runtime.HandlerNotFound`; after the
  function's Timeout (real seconds, not time-scaled; at most 900) the process group is killed
  and the answer is `Sandbox.Timedout`, "RequestId: ID Error: Task timed out after N.NN
  seconds". Event invocations answer 202 and run in the background (2 workers, a queue of
  100, then `TooManyRequestsException`); DryRun answers 204 without running. At most 8
  invocations run at once; a synchronous one beyond that is throttled (429).
- What the handler prints goes to CloudWatch Logs, group /aws/lambda/NAME, a stream named
  `YYYY/MM/DD/[VERSION]<hex>` per invocation, between START / END / REPORT lines;
  `LogType=Tail` returns the last 4 KB of it, base64.
- `bridge.invoke(name_or_arn, payload, wait=...)` is the same call for other sandbox parts.

Not modelled: execution-environment reuse (every invocation is a cold start, with an Init
Duration, and module state does not survive), MemorySize limits (reported, not enforced),
layers, extensions, Lambda's async retries, destinations and DLQs, event source mappings,
function URLs, reserved-concurrency throttling, response streaming, the deprecated
InvokeAsync API, and isolation (the handler runs as the sandbox's user, with its file
system; a hook Lambda is trusted code).
"""
