"""The HTTP server: moto's server application with the emulator's patches, plus the control API.

``build_app()`` installs the resource models and the CloudFormation patches before moto's
application exists, so the first stack parsed already sees them. Requests to
``/medplum-emulator/`` go to ``control``; all others to moto, one at a time under
``lifecycle.LOCK`` (moto's backends are plain dicts shared with the stack workers).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import make_server

from . import api, auth_errors, control, delivery, lifecycle, resources


def build_app() -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    resources.install()
    api.install()
    delivery.install()
    # S3 object writes and CloudFront invalidations are logged in the order they are answered.
    # IAM denials in each JSON-protocol service's own format (moto answers XML for all).
    moto_app = auth_errors.wrap(delivery.wrap(DomainDispatcherApplication(create_backend_app)))

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(control.PREFIX):
            return control.app(environ, start_response)
        with lifecycle.LOCK:
            # Drain the body inside the lock: moto may build it lazily from its backends.
            return [b"".join(moto_app(environ, start_response))]

    return app


def serve(host: str, port: int) -> None:
    """Serves in the foreground until SIGTERM or SIGINT; prints the ready line to stderr."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    # No access log: a harness that reads only the ready line must not block on a full pipe.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, build_app(), threaded=True, request_handler=MotoRequestHandler)
    # Clients keep connections alive; stopping must not wait for them to hang up.
    server.daemon_threads = True
    server.block_on_close = False
    actual_port = server.server_port
    # moto builds some URLs (S3 presigning, queue URLs) from MOTO_PORT.
    os.environ["MOTO_PORT"] = str(actual_port)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # werkzeug's serve_forever ends cleanly on it

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    shown_host = f"[{host}]" if ":" in host else host
    print(f"emulator: listening on http://{shown_host}:{actual_port}", file=sys.stderr, flush=True)
    server.serve_forever()
    print("emulator: stopped", file=sys.stderr, flush=True)
    # Finalizing the interpreter (moto's hundreds of modules) takes seconds; nothing is left to
    # flush or close, so leave at once.
    os._exit(0)
