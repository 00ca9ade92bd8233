"""A seeded fault-injecting HTTP proxy between the binary and the emulator (robustness tests).

``python -m medplum_emulator.proxy --port N --upstream http://127.0.0.1:M [--seed S] [--rate R]
[--faults 500,503,throttle,slow,drop] [--slow-seconds 2] [--after] [--hang]
[--spare-last-attempt]`` (see
``scripts/fault-proxy`` and docs/testing.md, "Fault-injecting proxy").

Each request to the emulator gets a decision from ``random.Random(seed)``, drawn in arrival
order (request head read; for form-encoded query calls, the body too): forward it, or fault it
(``500``, ``503``, ``throttle`` in the service's own protocol, ``drop`` the connection, ``slow``
forward late, or ``after-500``/``after-503``/``after-drop``: forward it, let the emulator act,
then lose the answer). Requests and responses are relayed byte for byte (headers as sent, so a
SigV4 signature still holds; Content-Length and chunked bodies streamed). The emulator's own
control API (``/medplum-emulator/``, ``/moto-api/``) is relayed and never faulted; the proxy's
is under ``/fault-proxy/``. Nothing is written to stderr per request.
"""

from __future__ import annotations

import argparse
import datetime
import io
import ipaddress
import json
import os
import random
import select
import signal
import socket
import socketserver
import sys
import threading
import time
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from .proxy_faults import Call, identify, render

PREFIX = "/fault-proxy/"
PASSTHROUGH = ("/medplum-emulator/", "/moto-api/")
BEFORE = ("500", "503", "throttle", "drop")
AFTER = ("after-500", "after-503", "after-drop")
KINDS = BEFORE + AFTER + ("slow",)
UPSTREAM_TIMEOUT = 300.0
MAX_HEAD = 65536
FORM_BODY_LIMIT = 1 << 20
COPY = 65536
REASONS = {100: "Continue", 200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


class BadRequest(ValueError):
    pass


def parse_faults(spec: Any, after: bool = False) -> list[tuple[str, float]]:
    """``"500,throttle:2"`` or ``["500", "throttle:2"]`` or ``{"500": 1}`` -> [(kind, weight)]."""
    if isinstance(spec, dict):
        items = [f"{k}:{v}" for k, v in spec.items()]
    elif isinstance(spec, str):
        items = [s for s in (p.strip() for p in spec.split(",")) if s]
    elif isinstance(spec, list):
        items = [str(s) for s in spec]
    else:
        raise BadRequest("faults must be a comma-separated string, a list or an object")
    mix = []
    for item in items:
        name, _, weight = item.partition(":")
        name = name.strip()
        if after and name in ("500", "503", "drop"):
            name = "after-" + name
        if name not in KINDS:
            raise BadRequest(f"unknown fault {name!r}; known: {', '.join(KINDS)}")
        try:
            w = float(weight) if weight else 1.0
        except ValueError:
            raise BadRequest(f"bad weight in {item!r}") from None
        if w < 0:
            raise BadRequest(f"bad weight in {item!r}")
        mix.append((name, w))
    return mix


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


class State:
    """Configuration, the seeded RNG, the request log, counters and the kill arm."""

    def __init__(self, seed: int, rate: float, mix: list[tuple[str, float]], slow_seconds: float, hang: bool,
                 spare_last: bool = False):
        self.lock = threading.Lock()
        self.deliver_lock = threading.Lock()
        self.pid_set = threading.Condition(self.lock)  # an arm waiting for its pid
        self.seed = seed
        self.rate = rate
        self.mix = mix
        self.slow_seconds = slow_seconds
        self.hang = hang
        # Never fault an AWS SDK call's last attempt (amz-sdk-request: attempt=N; max=N): a run
        # at a fixed rate then cannot fail by the bad luck of one call faulted on every try.
        self.spare_last = spare_last
        self.plan: list[dict[str, Any]] = []
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.rng = random.Random(self.seed)
            self.seq = 0
            self.answered = 0
            self.refused = 0
            self.log: list[dict[str, Any]] = []
            self.op_counts: dict[str, int] = {}
            self.arm: dict[str, Any] | None = None
            self.tripped = False
            self.fired: dict[str, Any] | None = None
            self.pid_set.notify_all()
            for entry in self.plan:
                entry.pop("used", None)

    def config(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "rate": self.rate,
            "faults": [f"{k}:{w:g}" for k, w in self.mix],
            "slowSeconds": self.slow_seconds, "hang": self.hang, "spareLastAttempt": self.spare_last,
            "plan": [{k: v for k, v in e.items()} for e in self.plan],
        }

    def configure(self, body: dict[str, Any]) -> None:
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        unknown = set(body) - {"seed", "rate", "faults", "after", "slowSeconds", "hang", "plan", "spareLastAttempt"}
        if unknown:
            raise BadRequest(f"unknown keys: {sorted(unknown)}")
        mix = self.mix
        if "faults" in body or "after" in body:
            spec = body.get("faults", [k for k, _ in self.mix])
            mix = parse_faults(spec, bool(body.get("after")))
        rate = body.get("rate", self.rate)
        if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise BadRequest("rate must be a number from 0 to 1")
        slow = body.get("slowSeconds", self.slow_seconds)
        if not isinstance(slow, (int, float)) or slow < 0:
            raise BadRequest("slowSeconds must be a number >= 0")
        plan = body.get("plan", self.plan)
        if not isinstance(plan, list):
            raise BadRequest("plan must be a list")
        checked = []
        for entry in plan:
            if not isinstance(entry, dict) or entry.get("fault") not in KINDS or not ("seq" in entry or "operation" in entry):
                raise BadRequest(f"bad plan entry {entry!r}: needs fault and seq or operation (+ nth)")
            checked.append({k: v for k, v in entry.items() if k != "used"})
        seed = body.get("seed", self.seed)
        if not isinstance(seed, int):
            raise BadRequest("seed must be an integer")
        with self.lock:
            self.mix, self.rate, self.slow_seconds, self.plan = mix, float(rate), float(slow), checked
            self.hang = bool(body.get("hang", self.hang))
            self.spare_last = bool(body.get("spareLastAttempt", self.spare_last))
            if "seed" in body:
                self.seed = seed
                self.rng = random.Random(seed)

    def decide(self, call: Call, path: str, last_attempt: bool = False) -> dict[str, Any]:
        """Numbers the request and draws its fault; returns its (live) log entry."""
        with self.lock:
            self.seq += 1
            nth = self.op_counts[call.operation] = self.op_counts.get(call.operation, 0) + 1
            # Two draws per request whatever the outcome, so the sequence stays aligned.
            roll = self.rng.random()
            pick = self.rng.random()
            fault = None
            if self.hang:
                fault = "hang"
            elif self.mix and roll < self.rate:
                total = sum(w for _, w in self.mix)
                acc = 0.0
                for kind, weight in self.mix:
                    acc += weight
                    if pick * total < acc:
                        fault = kind
                        break
                else:
                    fault = self.mix[-1][0]
            spared = fault is not None and fault != "slow" and last_attempt and self.spare_last
            if spared:
                fault = None
            for entry in self.plan:
                if entry.get("used"):
                    continue
                if entry.get("seq") == self.seq or (
                    "seq" not in entry and entry.get("operation") == call.operation and entry.get("nth", 1) == nth
                ):
                    fault = entry["fault"]
                    entry["used"] = True
                    break
            record = {
                "seq": self.seq, "time": now_iso(), "service": call.service, "operation": call.operation,
                "method": call.method, "path": path, "fault": fault, "upstream": None, "status": None, "ms": None,
            }
            if spared and fault is None:
                record["spared"] = True
            self.log.append(record)
            return record

    def update(self, record: dict[str, Any], **values: Any) -> None:
        with self.lock:
            record.update(values)

    def deliver(self, write: Callable[[], None]) -> bool:
        """Writes one response (or drops one connection) and counts it; fires the kill arm.

        While armed, deliveries are serialized so that exactly ``after`` responses reach the
        client before the signal, and none after it. An arm without a pid yet holds every
        answer until the pid comes (or the arm is cleared). False: refused (the arm has fired).
        """
        if self.arm is None and not self.tripped:
            write()
            with self.lock:
                self.answered += 1
            return True
        with self.deliver_lock:
            with self.lock:
                while self.arm is not None and self.arm["pid"] is None:
                    self.pid_set.wait()
                if self.tripped:
                    self.refused += 1
                    return False
            write()
            with self.lock:
                self.answered += 1
                arm = self.arm
                fire = arm is not None and self.answered >= arm["after"]
                if fire:
                    self.tripped = True
                    self.arm = None
            if fire:
                try:
                    os.kill(arm["pid"], arm["signum"])
                    outcome = None
                except OSError as e:
                    outcome = str(e)
                with self.lock:
                    self.fired = {**{k: v for k, v in arm.items() if k != "signum"}, "firedAt": now_iso(), "error": outcome}
            return True

    def arm_kill(self, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        if body.get("clear"):
            with self.lock:
                self.arm, self.tripped = None, False
                self.pid_set.notify_all()
            return self.kill_state()
        pid, after, name = body.get("pid"), body.get("after"), str(body.get("signal", "KILL")).upper()
        if pid is not None and (not isinstance(pid, int) or isinstance(pid, bool) or pid <= 1):
            raise BadRequest("pid must be an integer > 1")
        if after is None and pid is not None:
            # The second step of a two-step arm: {"after": K} first, {"pid": N} once it exists.
            with self.lock:
                if self.arm is None or self.arm["pid"] is not None:
                    raise BadRequest("no arm is waiting for a pid; send after (and signal) too")
                self.arm["pid"] = pid
                self.pid_set.notify_all()
            return self.kill_state()
        if not isinstance(after, int) or after < 1:
            raise BadRequest("after must be an integer >= 1 (responses counted since the last reset)")
        try:
            signum = int(name) if name.isdigit() else getattr(signal, name if name.startswith("SIG") else "SIG" + name)
        except AttributeError:
            raise BadRequest(f"unknown signal {name!r}") from None
        with self.lock:
            if after <= self.answered:
                raise BadRequest(f"{self.answered} responses already answered; after must be larger (or reset first)")
            self.arm = {"pid": pid, "after": after, "signal": name, "signum": int(signum)}
            self.tripped = False
            self.pid_set.notify_all()
        return self.kill_state()

    def kill_state(self) -> dict[str, Any]:
        with self.lock:
            arm = None if self.arm is None else {k: v for k, v in self.arm.items() if k != "signum"}
            return {"armed": arm, "tripped": self.tripped, "fired": self.fired if self.tripped else None}

    def count(self) -> dict[str, Any]:
        with self.lock:
            return {"requests": self.seq, "answered": self.answered, "refused": self.refused,
                    "faulted": sum(1 for r in self.log if r["fault"] not in (None, "slow")), "tripped": self.tripped}


def read_head(rfile: Any) -> tuple[bytes, str, str, str, list[tuple[str, str]]] | None:
    """Reads a request head; returns (raw, method, target, version, headers) or None at EOF."""
    raw = []
    size = 0
    while True:
        line = rfile.readline(MAX_HEAD)
        if not line:
            return None
        if line in (b"\r\n", b"\n") and not raw:
            continue  # stray CRLF between requests
        raw.append(line)
        size += len(line)
        if size > MAX_HEAD:
            raise BadRequest("request head too large")
        if line in (b"\r\n", b"\n"):
            break
    text = b"".join(raw).decode("iso-8859-1")
    lines = text.split("\r\n") if "\r\n" in text else text.split("\n")
    parts = lines[0].split()
    if len(parts) != 3:
        raise BadRequest("bad request line")
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return b"".join(raw), parts[0], parts[1], parts[2], headers


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    name = name.lower()
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def copy_body(rfile: Any, headers: list[tuple[str, str]], sink: Callable[[bytes], None]) -> None:
    """Copies a message body as framed (chunked: raw chunks and trailers; else Content-Length)."""
    te = (header(headers, "transfer-encoding") or "").lower()
    if "chunked" in te:
        while True:
            line = rfile.readline(MAX_HEAD)
            if not line:
                raise ConnectionError("eof in chunked body")
            sink(line)
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers up to the blank line
                    trailer = rfile.readline(MAX_HEAD)
                    if not trailer:
                        raise ConnectionError("eof in chunked trailers")
                    sink(trailer)
                    if trailer in (b"\r\n", b"\n"):
                        return
            copy_exact(rfile, size, sink)
            crlf = rfile.readline(MAX_HEAD)
            sink(crlf)
        return
    length = header(headers, "content-length")
    if length:
        copy_exact(rfile, int(length), sink)


def copy_exact(rfile: Any, n: int, sink: Callable[[bytes], None]) -> None:
    while n > 0:
        data = rfile.read(min(n, COPY))
        if not data:
            raise ConnectionError("eof in body")
        sink(data)
        n -= len(data)


def copy_to_eof(rfile: Any, sink: Callable[[bytes], None]) -> None:
    while True:
        data = rfile.read1(COPY) if hasattr(rfile, "read1") else rfile.read(COPY)
        if not data:
            return
        sink(data)


class Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], upstream: tuple[str, int], state: State):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.upstream = upstream
        self.state = state
        self.errors = 0
        self.last_error: str | None = None
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Nothing on stderr per request (a harness may stop reading it): count, keep the last.
        self.errors += 1
        self.last_error = repr(sys.exc_info()[1])


class Handler(socketserver.StreamRequestHandler):
    server: Proxy

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, data: bytes) -> None:
        self.connection.sendall(data)

    def handle(self) -> None:
        try:
            while self.one_request():
                pass
        except (OSError, ConnectionError, ValueError):
            pass

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes, close: bool = False) -> bytes:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines += [f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}", f"Content-Length: {len(body)}"]
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1") + body

    def one_request(self) -> bool:
        """Serves one request; False to close the connection."""
        state = self.server.state
        try:
            head = read_head(self.rfile)
        except BadRequest as e:
            self.send(self.respond(400, [("Content-Type", "text/plain")], str(e).encode(), close=True))
            return False
        if head is None:
            return False
        raw, method, target, version, headers = head
        path = urlsplit(target).path
        keep_alive = version == "HTTP/1.1" and (header(headers, "connection") or "").lower() != "close"
        if path.startswith(PREFIX):
            return self.control(method, target, headers) and keep_alive
        passthrough = path.startswith(PASSTHROUGH)
        if not passthrough and state.tripped:
            with state.lock:
                state.refused += 1
            return False
        body: bytes | None = None
        if (header(headers, "expect") or "").lower() == "100-continue":
            # Answer the client's Expect at once; the upstream's own 100 is skipped when it comes.
            self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        content_type = (header(headers, "content-type") or "").lower()
        length = header(headers, "content-length")
        if "application/x-www-form-urlencoded" in content_type and length and int(length) <= FORM_BODY_LIMIT:
            body = self.read_body(headers)
        call = identify(method, target, headers, body)
        if passthrough:
            outcome = self.forward(raw, method, headers, body, self.send)
            if outcome is None:
                self.send(self.respond(502, [("Content-Type", "text/plain")], b"fault-proxy: the upstream did not answer", close=True))
                return False
            return outcome[1] and keep_alive
        record = state.decide(call, path, is_last_attempt(headers))
        started = time.monotonic()
        fault = record["fault"]
        if fault == "hang":
            self.discard_body(headers, body)
            copy_to_eof(self.rfile, lambda data: None)  # never answer; wait for the client to go
            return False
        if fault in BEFORE:
            self.discard_body(headers, body)
            return self.fake(record, fault, call, started, keep_alive)
        if fault == "slow":
            time.sleep(state.slow_seconds)
        if fault in AFTER or state.arm is not None or state.tripped:
            buffer = io.BytesIO()
            outcome = self.forward(raw, method, headers, body, buffer.write)
            if outcome is None:
                return self.upstream_failed(record, started)
            status, reusable = outcome
            state.update(record, upstream=status)
            if fault in AFTER:
                return self.fake(record, fault[len("after-"):], call, started, keep_alive)
            delivered = state.deliver(lambda: self.send(buffer.getvalue()))
            state.update(record, status=status if delivered else None, ms=self.elapsed(started))
            return delivered and reusable and keep_alive
        # The common case: stream the answer straight through.
        written = [False]

        def sink(data: bytes) -> None:
            written[0] = True
            self.send(data)

        outcome = None

        def relay() -> None:
            nonlocal outcome
            outcome = self.forward(raw, method, headers, body, sink)

        if not state.deliver(relay):
            return False  # the kill arm fired meanwhile: refused, never forwarded
        if outcome is None:
            if written[0]:
                state.update(record, ms=self.elapsed(started))
                return False
            return self.upstream_failed(record, started, counted=True)
        status, reusable = outcome
        state.update(record, upstream=status, status=status, ms=self.elapsed(started))
        return reusable and keep_alive

    @staticmethod
    def elapsed(started: float) -> int:
        return int((time.monotonic() - started) * 1000)

    def fake(self, record: dict[str, Any], kind: str, call: Call, started: float, keep_alive: bool) -> bool:
        state = self.server.state
        if kind == "drop":
            delivered = state.deliver(self.drop)
            state.update(record, ms=self.elapsed(started))
            return False
        status, headers, body = render(kind, call)
        delivered = state.deliver(lambda: self.send(self.respond(status, headers, body, close=not keep_alive)))
        state.update(record, status=status if delivered else None, ms=self.elapsed(started))
        return delivered and keep_alive

    def drop(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def upstream_failed(self, record: dict[str, Any], started: float, counted: bool = False) -> bool:
        state = self.server.state
        message = b"fault-proxy: the upstream did not answer"
        reply = self.respond(502, [("Content-Type", "text/plain")], message, close=True)
        if counted:
            self.send(reply)
        else:
            state.deliver(lambda: self.send(reply))
        state.update(record, status=502, ms=self.elapsed(started), error="upstream failed")
        return False

    def read_body(self, headers: list[tuple[str, str]]) -> bytes:
        parts: list[bytes] = []
        copy_body(self.rfile, headers, parts.append)
        return b"".join(parts)

    def discard_body(self, headers: list[tuple[str, str]], body: bytes | None) -> None:
        if body is None:
            copy_body(self.rfile, headers, lambda data: None)

    def forward(self, raw: bytes, method: str, headers: list[tuple[str, str]], body: bytes | None,
                sink: Callable[[bytes], None]) -> tuple[int, bool] | None:
        """Sends the request upstream (a fresh connection) and the response to ``sink``.

        Returns (status, connection reusable) or None if the upstream failed before the
        response head came.
        """
        try:
            upstream = socket.create_connection(self.server.upstream, timeout=UPSTREAM_TIMEOUT)
        except OSError:
            return None
        try:
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            upstream.sendall(raw)
            if body is not None:
                upstream.sendall(body)
            else:
                copy_body(self.rfile, headers, upstream.sendall)
            urfile = upstream.makefile("rb")
            while True:
                line = urfile.readline(MAX_HEAD)
                if not line:
                    return None
                lines = [line]
                while True:
                    more = urfile.readline(MAX_HEAD)
                    if not more:
                        return None
                    lines.append(more)
                    if more in (b"\r\n", b"\n"):
                        break
                status = int(line.split()[1])
                if 100 <= status < 200 and status != 101:
                    continue  # interim (100 Continue: the client had its own)
                break
            response_headers = []
            for item in lines[1:-1]:
                name, _, value = item.decode("iso-8859-1").partition(":")
                response_headers.append((name.strip(), value.strip()))
            sink(b"".join(lines))
            reusable = (header(response_headers, "connection") or "").lower() != "close"
            if method == "HEAD" or status in (204, 304):
                pass
            elif header(response_headers, "transfer-encoding") or header(response_headers, "content-length"):
                copy_body(urfile, response_headers, sink)
            else:
                copy_to_eof(urfile, sink)
                reusable = False
            return status, reusable
        except (OSError, ValueError, IndexError):
            return None
        finally:
            upstream.close()

    def control(self, method: str, target: str, headers: list[tuple[str, str]]) -> bool:
        state = self.server.state
        split = urlsplit(target)
        name = split.path[len(PREFIX):].strip("/")
        raw = self.read_body(headers)
        status, answer = 200, None
        try:
            payload = json.loads(raw) if raw.strip() else {}
            if (method, name) == ("GET", "log"):
                since = int((parse_qs(split.query).get("since") or ["0"])[0])
                with state.lock:
                    answer = {"requests": [dict(r) for r in state.log if r["seq"] > since]}
            elif (method, name) == ("GET", "count"):
                answer = state.count()
            elif (method, name) == ("GET", "config"):
                answer = state.config()
            elif (method, name) == ("POST", "config"):
                state.configure(payload)
                answer = state.config()
            elif (method, name) == ("GET", "kill-after"):
                answer = state.kill_state()
            elif (method, name) == ("POST", "kill-after"):
                answer = state.arm_kill(payload)
            elif (method, name) == ("POST", "reset"):
                state.reset()
                answer = state.count()
            elif (method, name) == ("GET", "health"):
                answer = {"status": "ok", "upstream": "http://%s:%d" % self.server.upstream,
                          "errors": self.server.errors, "lastError": self.server.last_error}
            else:
                status, answer = 404, {"error": f"no such endpoint: {method} {split.path}"}
        except (BadRequest, ValueError) as e:
            status, answer = 400, {"error": str(e)}
        self.send(self.respond(status, [("Content-Type", "application/json")], json.dumps(answer).encode()))
        return True


def is_last_attempt(headers: list[tuple[str, str]]) -> bool:
    """``amz-sdk-request: attempt=5; max=5``: the AWS SDK will not retry this request."""
    pairs = dict(
        part.strip().partition("=")[::2] for part in (header(headers, "amz-sdk-request") or "").split(";")
    )
    try:
        return int(pairs["attempt"]) >= int(pairs["max"])
    except (KeyError, ValueError):
        return False


def is_loopback(host: str) -> bool:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fault-proxy", description="Seeded fault-injecting proxy in front of the emulator.")
    parser.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--upstream", required=True, help="the emulator, http://127.0.0.1:PORT (loopback only)")
    parser.add_argument("--seed", type=int, help="RNG seed (default: random; GET /fault-proxy/config shows it)")
    parser.add_argument("--rate", type=float, default=0.0, help="share of requests faulted, 0..1 (default 0)")
    parser.add_argument("--faults", default="500,503,throttle,slow,drop",
                        help="fault mix, comma-separated KIND[:WEIGHT]; kinds: " + ", ".join(KINDS))
    parser.add_argument("--after", action="store_true", help="500, 503 and drop act after the emulator has acted")
    parser.add_argument("--slow-seconds", type=float, default=2.0, help="delay of a slow fault (default 2)")
    parser.add_argument("--hang", action="store_true", help="accept connections and never answer")
    parser.add_argument("--spare-last-attempt", action="store_true",
                        help="never fault a request the AWS SDK marks as its last attempt (amz-sdk-request)")
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        print(f"fault-proxy: refusing to listen on {args.host}: only loopback addresses are allowed", file=sys.stderr)
        return 2
    upstream = urlsplit(args.upstream)
    if upstream.scheme != "http" or not upstream.hostname or not is_loopback(upstream.hostname) or upstream.path not in ("", "/"):
        print(f"fault-proxy: refusing upstream {args.upstream}: only http://<loopback>:PORT is allowed", file=sys.stderr)
        return 2
    if not 0 <= args.rate <= 1:
        print("fault-proxy: --rate must be from 0 to 1", file=sys.stderr)
        return 2
    try:
        mix = parse_faults(args.faults, args.after)
    except BadRequest as e:
        print(f"fault-proxy: {e}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    state = State(seed, args.rate, mix, args.slow_seconds, args.hang, args.spare_last_attempt)
    try:
        server = Proxy((args.host, args.port), (upstream.hostname, upstream.port or 80), state)
    except OSError as e:
        print(f"fault-proxy: cannot listen on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
        return 1

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"fault-proxy: listening on http://{shown}:{port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    # Handler threads are daemons (some may be hung on purpose): leave at once.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
