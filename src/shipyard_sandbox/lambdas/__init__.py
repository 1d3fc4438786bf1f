"""Lambda functions run for real in the sandbox (moto's own Invoke needs docker).

CreateFunction / UpdateFunctionCode / PublishVersion / CreateAlias are moto's, unchanged: the
zip (ZipFile, or S3Bucket/S3Key of an object in the sandbox's S3) is stored with its
CodeSha256. `Invoke` (its response replaced in moto, `bridge`) is answered by running the
handler of the version its Qualifier (or a qualified ARN) names:

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
  set to the sandbox (over any the function sets), so the handler's SDK talks to the sandbox
  and nothing else; the machine's own AWS config files are hidden from it.
  A model note (`addresses`): in the function's variables, a URL on a load balancer's DNS
  name and listener port becomes that listener's local URL, and the account's ECR host the
  sandbox registry's address, since neither name resolves here.
- Answers as Lambda does: the return value as JSON (200); a handler exception as
  `FunctionError: Unhandled` with errorMessage/errorType/requestId/stackTrace, and import or
  handler-name failures as `Runtime.ImportModuleError` / `Runtime.HandlerNotFound`; after the
  function's Timeout (real seconds, not time-scaled; at most 900) the process group is killed
  and the answer is `Sandbox.Timedout`, "RequestId: ID Error: Task timed out after N.NN
  seconds". A process that ends without answering is `Runtime.ExitError` ("Runtime exited
  with error: exit status N" / "signal: killed"); a result over 6 MB is
  `Function.ResponseSizeTooLarge`; an event over 6 MB (1 MB for Event) is
  `RequestTooLargeException`, one that is not JSON `InvalidRequestContentException`.
  Event invocations answer 202 and run in the background (2 workers, a queue of
  100, then `TooManyRequestsException`); DryRun answers 204 without running. At most 8
  invocations run at once; a synchronous one beyond that is throttled (429).
- What the handler prints goes to CloudWatch Logs as it is printed, group /aws/lambda/NAME, a
  stream named `YYYY/MM/DD/[VERSION]<hex>` per invocation, between START / END / REPORT lines
  (a failure adds the runtime's `[ERROR] Type: message` block, a timeout its line);
  `LogType=Tail` returns the last 4 KB of it, base64.
- `bridge.invoke(name_or_arn, payload, wait=...)` is the same call for other sandbox parts.
- `sandbox down` kills every running handler with what it started; a sandbox started on the
  folder of one that was killed ends what that one left (`runtime.leftovers`).

Not modelled: execution-environment reuse (every invocation is a cold start, with an Init
Duration, and module state does not survive), MemorySize limits (reported, not enforced),
layers, extensions, Lambda's async retries, destinations and DLQs, event source mappings,
function URLs, reserved-concurrency throttling, response streaming, the deprecated
InvokeAsync API, the response's x-amzn-RequestId (moto's own, not the invocation's; the
invocation's is in the START line and in an error's `requestId`), stack-trace paths (the
real folder under STATE, not /var/task), the reserved-variable check of CreateFunction, and
isolation (the handler runs as the sandbox's user, root, with its file system: a hook Lambda
is trusted code).
"""
