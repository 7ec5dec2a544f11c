"""furl's Python runtime client.

It speaks the Lambda Runtime API (2018-06-01) from AWS_LAMBDA_RUNTIME_API,
imports the handler named by _HANDLER (module.function) from
LAMBDA_TASK_ROOT, and runs one event at a time, as the runtime in AWS's
Python images does: the context object, logging lines with the request id,
and errors as {errorMessage, errorType, requestId, stackTrace}.
"""

import decimal
import http.client
import importlib
import json
import logging
import os
import sys
import sysconfig
import time
import traceback

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2018-06-01/runtime"
TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
CLIENT_FILE = os.path.realpath(__file__)


def _lambda_paths():
    """Host directories and the names Lambda shows for them in tracebacks:
    the task root is /var/task there and the interpreter's library
    /var/lang/lib/pythonX.Y. Both the given and the resolved paths are
    mapped, since a traceback may name either."""
    stdlib = sysconfig.get_paths()["stdlib"]
    lib = "/var/lang/lib/python%d.%d" % sys.version_info[:2]
    pairs = {}
    for host, shown in ((stdlib, lib), (TASK_ROOT, "/var/task")):
        for p in (host, os.path.realpath(host)):
            pairs[p.rstrip(os.sep) + os.sep] = shown + "/"
    # The longest prefix first, should one directory hold the other.
    return sorted(pairs.items(), key=lambda kv: -len(kv[0]))


LAMBDA_PATHS = _lambda_paths()


class Client:
    """One keep-alive connection to the Runtime API."""

    def __init__(self):
        host, port = API.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port))

    def request(self, method, path, body=None, headers=None):
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, resp.headers, data

    def post(self, path, payload, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return self.request("POST", path, body=payload, headers=h)


class CognitoIdentity:
    def __init__(self, raw):
        self.cognito_identity_id = raw.get("cognitoIdentityId")
        self.cognito_identity_pool_id = raw.get("cognitoIdentityPoolId")


class ClientContext:
    def __init__(self, raw):
        self.client = raw.get("client")
        self.custom = raw.get("custom")
        self.env = raw.get("env")


class LambdaContext:
    def __init__(self, request_id, deadline_ms, arn, client_context, identity):
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = ClientContext(json.loads(client_context)) if client_context else None
        self.identity = CognitoIdentity(json.loads(identity)) if identity else None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def log(self, msg):
        sys.stdout.write(str(msg))


# Logging as AWS's runtime sets it up: a root handler that prefixes the
# level, the time and the request id. The level is left at Python's
# default, as on Lambda.
current_request_id = None


class LambdaFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = current_request_id
        return True


class LambdaFormatter(logging.Formatter):
    def formatTime(self, record, datefmt=None):
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + ".%03dZ" % record.msecs


handler_ = logging.StreamHandler(sys.stdout)
handler_.setFormatter(LambdaFormatter("[%(levelname)s]\t%(asctime)s\t%(aws_request_id)s\t%(message)s\n"))
handler_.addFilter(LambdaFilter())
handler_.terminator = ""
logging.getLogger().addHandler(handler_)


class Encoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, decimal.Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


def lambda_path(filename):
    for host, shown in LAMBDA_PATHS:
        if filename.startswith(host):
            return shown + filename[len(host):]
    return filename


def user_stack(tb):
    """The traceback as Lambda reports it: from the first frame that is not
    this client's (the user's code, or the import machinery that runs it),
    with the paths Lambda shows and without column markers."""
    frames = traceback.extract_tb(tb)
    i = 0
    while i < len(frames) and os.path.realpath(frames[i].filename) == CLIENT_FILE:
        i += 1
    return traceback.format_list(
        [(lambda_path(f.filename), f.lineno, f.name, f.line) for f in frames[i:]])


def error_body(exc, request_id=None):
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id or "",
        "stackTrace": user_stack(exc.__traceback__),
    }


def log_error(body):
    lines = "".join(body.get("stackTrace", []))
    sys.stdout.write(f"[ERROR] {body['errorType']}: {body['errorMessage']}\nTraceback (most recent call last):\n{lines}")


def init_error(client, error_type, message, stack=None):
    post_init_error(client, {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": stack or []})


def post_init_error(client, body):
    log_error(body)
    client.post(BASE + "/init/error", json.dumps(body).encode(), {"Lambda-Runtime-Function-Error-Type": body["errorType"]})
    sys.exit(1)


def load_handler(client):
    spec = os.environ.get("_HANDLER", "")
    try:
        module_name, function_name = spec.rsplit(".", 1)
    except ValueError as e:
        init_error(client, "Runtime.MalformedHandlerName", f"Bad handler '{spec}': {e}")
    if module_name.split(".")[0] in sys.builtin_module_names:
        init_error(client, "Runtime.BuiltInModuleConflict", f"Cannot use built-in module {module_name} as a handler module")
    if TASK_ROOT not in sys.path:
        sys.path.insert(0, TASK_ROOT)
    # Lambda's Python runtimes search the layers in /opt after the task
    # root: the version's site directory, then python/.
    at = sys.path.index(TASK_ROOT) + 1
    for layer_path in (f"/opt/python/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages", "/opt/python"):
        if layer_path not in sys.path:
            sys.path.insert(at, layer_path)
            at += 1
    # Lambda names the module as the handler does (a/b, not a.b), reports a
    # module it cannot find or parse as its own error with no frames but the
    # syntax error's place, and any other exception the module raises as
    # that exception, with the import machinery's frames and the user's.
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        init_error(client, "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {e}")
    except SyntaxError as e:
        init_error(client, "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {e}",
                   ['  File "%s" Line %s\n    %s' % (lambda_path(e.filename or ""), e.lineno, e.text)])
    except Exception as e:
        post_init_error(client, error_body(e))
    fn = getattr(module, function_name, None)
    if fn is None:
        init_error(client, "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return fn


def main():
    global current_request_id
    client = Client()
    handler = load_handler(client)
    while True:
        status, headers, body = client.request("GET", BASE + "/invocation/next")
        if status != 200:
            raise RuntimeError(f"/next answered {status}: {body!r}")
        request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        trace = headers.get("Lambda-Runtime-Trace-Id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        current_request_id = request_id
        context = LambdaContext(
            request_id,
            int(headers.get("Lambda-Runtime-Deadline-Ms", "0")),
            headers.get("Lambda-Runtime-Invoked-Function-Arn"),
            headers.get("Lambda-Runtime-Client-Context"),
            headers.get("Lambda-Runtime-Cognito-Identity"),
        )
        try:
            event = json.loads(body) if body else None
            result = handler(event, context)
        except Exception as e:
            err = error_body(e, request_id)
            log_error(err)
            client.post(BASE + f"/invocation/{request_id}/error", json.dumps(err).encode(),
                        {"Lambda-Runtime-Function-Error-Type": err["errorType"]})
            continue
        try:
            payload = json.dumps(result, cls=Encoder).encode()
        except (TypeError, ValueError) as e:
            err = {"errorMessage": f"Unable to marshal response: {e}", "errorType": "Runtime.MarshalError",
                   "requestId": request_id, "stackTrace": []}
            log_error(err)
            client.post(BASE + f"/invocation/{request_id}/error", json.dumps(err).encode(),
                        {"Lambda-Runtime-Function-Error-Type": err["errorType"]})
            continue
        client.post(BASE + f"/invocation/{request_id}/response", payload)


if __name__ == "__main__":
    main()
