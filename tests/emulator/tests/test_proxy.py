"""The fault-injecting proxy (``scripts/fault-proxy``) in front of a real emulator.

boto3 clients go through the proxy with retries off, so every injected fault is what the
client sees. The emulator is the lifecycle tests' shared one (``conftest_lifecycle``); the
proxies are started the way a harness starts them, reading the ready line.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from conftest_lifecycle import REPO, emu_server  # noqa: F401  (fixture)

READY = re.compile(r"fault-proxy: listening on (http://\S+)")
NO_RETRIES = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=20)


class FaultProxy:
    def __init__(self, url: str, process: subprocess.Popen[str]):
        self.url = url
        self.process = process

    def client(self, service: str, config: Config = NO_RETRIES) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="x", aws_secret_access_key="x", config=config)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/fault-proxy/{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def log(self) -> list[dict[str, Any]]:
        return self.control("GET", "log")["requests"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def start_proxy(*args: str) -> FaultProxy:
    process = subprocess.Popen([str(REPO / "scripts" / "fault-proxy"), "--port", "0", *args],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], deadline - time.monotonic())
        line = process.stderr.readline() if ready else ""
        if not line:
            break
        match = READY.search(line)
        if match:
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return FaultProxy(match.group(1), process)
    process.kill()
    raise RuntimeError("fault-proxy did not start")


@pytest.fixture(scope="module")
def proxy_server(emu_server: Any) -> Any:  # noqa: F811
    proxy = start_proxy("--upstream", emu_server.url, "--seed", "7")
    yield proxy
    proxy.stop()


@pytest.fixture
def proxy(proxy_server: FaultProxy, emu_server: Any) -> Any:  # noqa: F811
    emu_server.control("POST", "reset")
    proxy_server.control("POST", "config", {"rate": 0, "faults": "500,503,throttle,slow,drop", "seed": 7,
                                            "slowSeconds": 2, "hang": False, "plan": [],
                                            "spareLastAttempt": False})
    proxy_server.control("POST", "reset")
    yield proxy_server
    health = proxy_server.control("GET", "health")
    assert (health["errors"], health["lastError"]) == (0, None)  # no handler blew up


def fault(proxy: FaultProxy, faults: str, rate: float = 1.0, **more: Any) -> None:
    proxy.control("POST", "config", {"rate": rate, "faults": faults, **more})


# (service, call, expected code, expected HTTP status): one per protocol family
THROTTLES = [
    ("cloudformation", lambda c: c.describe_stacks(), "Throttling", 400),
    ("sts", lambda c: c.get_caller_identity(), "Throttling", 400),
    ("iam", lambda c: c.list_roles(), "Throttling", 400),
    ("ses", lambda c: c.list_identities(), "Throttling", 400),
    ("elbv2", lambda c: c.describe_load_balancers(), "Throttling", 400),
    ("acm", lambda c: c.list_certificates(), "ThrottlingException", 400),
    ("ssm", lambda c: c.get_parameter(Name="/x"), "ThrottlingException", 400),
    ("ecs", lambda c: c.list_clusters(), "ThrottlingException", 400),
    ("sesv2", lambda c: c.get_account(), "TooManyRequestsException", 429),
    ("lambda", lambda c: c.list_functions(), "TooManyRequestsException", 429),
    ("cloudfront", lambda c: c.list_distributions(), "Throttling", 400),
    ("route53", lambda c: c.list_hosted_zones(), "Throttling", 400),
    ("s3", lambda c: c.list_buckets(), "SlowDown", 503),
    ("s3", lambda c: c.put_object(Bucket="some-bucket", Key="k", Body=b"x" * 100_000), "SlowDown", 503),
]


def test_throttling_is_each_services_own_error(proxy: FaultProxy) -> None:
    fault(proxy, "throttle")
    for service, call, code, status in THROTTLES:
        client = proxy.client(service)
        for _ in range(2):  # twice on one client: the faulted connection stays usable
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                call(client)
            error = caught.value.response
            assert (service, error["Error"]["Code"]) == (service, code)
            assert error["ResponseMetadata"]["HTTPStatusCode"] == status
            assert error["Error"].get("Message") in ("Rate exceeded", "Please reduce your request rate.")
    log = proxy.log()
    assert len(log) == 2 * len(THROTTLES)
    assert all(r["fault"] == "throttle" and r["upstream"] is None for r in log)
    assert [r["service"] for r in log[::2]] == ["cloudformation", "sts", "iam", "ses", "elasticloadbalancing", "acm",
                                               "ssm", "ecs", "ses", "lambda", "cloudfront", "route53", "s3", "s3"]
    assert log[0]["operation"] == "DescribeStacks" and log[12]["operation"] == "AmazonSSM.GetParameter"


@pytest.mark.parametrize("kind, expected", [
    ("500", {"s3": ("InternalError", 500), "ssm": ("InternalFailure", 500), "sts": ("InternalFailure", 500),
             "lambda": ("InternalFailure", 500), "route53": ("InternalFailure", 500)}),
    ("503", {"s3": ("ServiceUnavailable", 503), "ssm": ("ServiceUnavailable", 503), "sts": ("ServiceUnavailable", 503),
             "lambda": ("ServiceUnavailable", 503), "route53": ("ServiceUnavailable", 503)}),
])
def test_server_errors(proxy: FaultProxy, kind: str, expected: dict[str, tuple[str, int]]) -> None:
    fault(proxy, kind)
    calls = {"s3": lambda c: c.list_buckets(), "ssm": lambda c: c.get_parameter(Name="/x"),
             "sts": lambda c: c.get_caller_identity(), "lambda": lambda c: c.list_functions(),
             "route53": lambda c: c.list_hosted_zones()}
    for service, (code, status) in expected.items():
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            calls[service](proxy.client(service))
        assert (caught.value.response["Error"]["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)


def test_clean_pass_through_keeps_bodies(proxy: FaultProxy) -> None:
    s3 = proxy.client("s3")
    s3.create_bucket(Bucket="proxy-bodies")
    data = os.urandom(3 * 1024 * 1024)  # big enough for boto3's Expect: 100-continue
    s3.put_object(Bucket="proxy-bodies", Key="blob", Body=data)
    assert s3.get_object(Bucket="proxy-bodies", Key="blob")["Body"].read() == data
    assert s3.head_object(Bucket="proxy-bodies", Key="blob")["ContentLength"] == len(data)
    assert [r["status"] for r in proxy.log()] == [200, 200, 200, 200]
    assert proxy.control("GET", "count") == {"requests": 4, "answered": 4, "refused": 0, "faulted": 0, "tripped": False}


def outcomes(proxy: FaultProxy, n: int) -> list[str]:
    sts = proxy.client("sts")
    seen = []
    for _ in range(n):
        try:
            sts.get_caller_identity()
            seen.append("ok")
        except botocore.exceptions.ClientError as e:
            seen.append(e.response["Error"]["Code"])
    return seen


def test_seeded_decisions_are_reproducible(proxy: FaultProxy) -> None:
    fault(proxy, "500,503,throttle", rate=0.5, seed=42)
    first = outcomes(proxy, 24)
    first_log = [(r["seq"], r["fault"]) for r in proxy.log()]
    proxy.control("POST", "reset")  # reseeds with the configured seed
    assert outcomes(proxy, 24) == first
    assert [(r["seq"], r["fault"]) for r in proxy.log()] == first_log
    assert "ok" in first and len(set(first)) >= 3  # a mix, not all one outcome
    fault(proxy, "500,503,throttle", rate=0.5, seed=43)
    proxy.control("POST", "reset")
    assert outcomes(proxy, 24) != first


def test_plan_faults_a_chosen_request(proxy: FaultProxy) -> None:
    fault(proxy, "500", rate=0, plan=[{"seq": 2, "fault": "throttle"},
                                      {"operation": "GetCallerIdentity", "nth": 4, "fault": "503"}])
    assert outcomes(proxy, 5) == ["ok", "Throttling", "ok", "ServiceUnavailable", "ok"]


def test_drop_closes_without_answer_and_never_reaches_the_emulator(proxy: FaultProxy) -> None:
    fault(proxy, "drop")
    ssm = proxy.client("ssm")
    with pytest.raises(botocore.exceptions.HTTPClientError):
        ssm.put_parameter(Name="/dropped", Value="v", Type="String")
    fault(proxy, "drop", rate=0)
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name="/dropped")
    assert [(r["fault"], r["status"], r["upstream"]) for r in proxy.log()] == [("drop", None, None), (None, 400, 400)]


def test_slow_answers_late_but_right(proxy: FaultProxy) -> None:
    fault(proxy, "slow", slowSeconds=0.6)
    started = time.monotonic()
    assert proxy.client("sts").get_caller_identity()["Account"] == "123456789012"
    assert time.monotonic() - started >= 0.6
    assert proxy.log()[0]["fault"] == "slow" and proxy.log()[0]["status"] == 200


def test_after_faults_lose_the_answer_of_a_call_that_happened(proxy: FaultProxy) -> None:
    fault(proxy, "500", after=True)
    assert proxy.control("GET", "config")["faults"] == ["after-500:1"]
    ssm = proxy.client("ssm")
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        ssm.put_parameter(Name="/created", Value="v", Type="String")
    assert caught.value.response["Error"]["Code"] == "InternalFailure"
    fault(proxy, "after-drop")
    s3 = proxy.client("s3")
    with pytest.raises(botocore.exceptions.HTTPClientError):
        s3.create_bucket(Bucket="made-anyway")
    fault(proxy, "500", rate=0)
    assert ssm.get_parameter(Name="/created")["Parameter"]["Value"] == "v"
    assert "made-anyway" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    log = proxy.log()
    assert [(r["fault"], r["upstream"], r["status"]) for r in log[:2]] == [("after-500", 200, 500), ("after-drop", 200, None)]


def test_kill_after_the_kth_response(proxy: FaultProxy, emu_server: Any) -> None:  # noqa: F811
    child = subprocess.Popen(["sleep", "60"])
    try:
        with pytest.raises(urllib.error.HTTPError):  # only positive counts ahead of the counter
            proxy.control("POST", "kill-after", {"pid": child.pid, "after": 0})
        armed = proxy.control("POST", "kill-after", {"pid": child.pid, "after": 3, "signal": "KILL"})
        assert armed["armed"] == {"pid": child.pid, "after": 3, "signal": "KILL"}
        sts = proxy.client("sts")
        sts.get_caller_identity()
        sts.get_caller_identity()
        time.sleep(0.2)
        assert child.poll() is None
        sts.get_caller_identity()  # the 3rd answer arrives in full, then the signal goes
        assert child.wait(timeout=5) == -signal.SIGKILL
        with pytest.raises(botocore.exceptions.HTTPClientError):  # refused from now on
            sts.get_caller_identity()
        with pytest.raises(botocore.exceptions.HTTPClientError):
            proxy.client("ssm").get_parameter(Name="/x")
        state = proxy.control("GET", "kill-after")
        assert state["tripped"] and state["armed"] is None and state["fired"]["error"] is None
        assert proxy.control("GET", "count")["answered"] == 3
        # control APIs still answer, the emulator's through the proxy too
        with urllib.request.urlopen(f"{proxy.url}/medplum-emulator/health", timeout=5) as response:
            assert json.loads(response.read())["status"] == "ok"
        proxy.control("POST", "kill-after", {"clear": True})
        sts.get_caller_identity()
        assert proxy.control("GET", "count")["answered"] == 4
    finally:
        child.kill()
        child.wait()


def test_control_apis_are_never_faulted(proxy: FaultProxy) -> None:
    fault(proxy, "500,drop")
    for _ in range(5):
        with urllib.request.urlopen(f"{proxy.url}/medplum-emulator/health", timeout=5) as response:
            assert response.status == 200
        with urllib.request.urlopen(f"{proxy.url}/moto-api/data.json", timeout=5) as response:
            assert response.status == 200
        assert proxy.control("GET", "count")["requests"] == 0
    assert proxy.log() == []
    with pytest.raises(urllib.error.HTTPError) as caught:
        proxy.control("POST", "config", {"faults": "teapot"})
    assert caught.value.code == 400


def test_hang_never_answers_and_stops_at_once(emu_server: Any) -> None:  # noqa: F811
    hung = start_proxy("--upstream", emu_server.url, "--hang")
    try:
        with pytest.raises(botocore.exceptions.ReadTimeoutError):
            hung.client("sts", Config(retries={"total_max_attempts": 1}, read_timeout=1)).get_caller_identity()
        with socket.create_connection(("127.0.0.1", int(hung.url.rsplit(":", 1)[1])), timeout=1) as raw:
            raw.sendall(b"GET /some-bucket HTTP/1.1\r\nHost: x\r\n\r\n")
            with pytest.raises(socket.timeout):
                raw.recv(1)
            assert hung.control("GET", "count")["requests"] == 2  # the control API still answers
            started = time.monotonic()
            hung.process.send_signal(signal.SIGINT)
            assert hung.process.wait(timeout=5) == 0
            assert time.monotonic() - started < 2
    finally:
        hung.stop()


def test_refuses_anything_but_loopback(emu_server: Any) -> None:  # noqa: F811
    script = str(REPO / "scripts" / "fault-proxy")
    for args in (["--host", "0.0.0.0", "--upstream", emu_server.url], ["--upstream", "http://10.1.2.3:4566"],
                 ["--upstream", "https://127.0.0.1:4566"]):
        result = subprocess.run([script, "--port", "0", *args], capture_output=True, text=True, timeout=20)
        assert result.returncode == 2 and "refusing" in result.stderr


def test_chunked_bodies_are_relayed_byte_for_byte() -> None:
    """Against a raw upstream stub: a chunked request and a chunked response, unchanged."""
    response = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/xml\r\n\r\n"
                b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
    request = (b"PUT /bucket/key HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
               b"Authorization: AWS4-HMAC-SHA256 Credential=x/20261201/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0\r\n\r\n"
               b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
    received = bytearray()
    listener = socket.create_server(("127.0.0.1", 0))

    def stub() -> None:
        conn, _ = listener.accept()
        with conn:
            while not received.endswith(b"defg\r\n0\r\n\r\n"):
                data = conn.recv(65536)
                if not data:
                    return
                received.extend(data)
            conn.sendall(response)
            conn.recv(1)  # until the proxy hangs up

    threading.Thread(target=stub, daemon=True).start()
    proxy = start_proxy("--upstream", f"http://127.0.0.1:{listener.getsockname()[1]}", "--rate", "0")
    try:
        with socket.create_connection(("127.0.0.1", int(proxy.url.rsplit(":", 1)[1])), timeout=5) as raw:
            raw.sendall(request)
            got = b""
            while not got.endswith(b"X-Trailer: t\r\n\r\n"):
                data = raw.recv(65536)
                if not data:
                    break
                got += data
        assert bytes(received) == request
        assert got == response
        assert proxy.log()[0]["operation"] == "PUT /bucket/key"
    finally:
        proxy.stop()
        listener.close()


def test_concurrent_clients_with_retries_finish_at_20_percent(proxy: FaultProxy) -> None:
    """What the binary's runs do: concurrent calls, SDK retries on, a fifth of requests faulted."""
    fault(proxy, "500,503,throttle,drop,after-500", rate=0.2, seed=11)
    retrying = Config(retries={"mode": "standard", "max_attempts": 10})
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        ssm = proxy.client("ssm", retrying)
        try:
            for i in range(8):
                try:
                    ssm.put_parameter(Name=f"/c/{n}/{i}", Value=str(i), Type="String")
                except ssm.exceptions.ParameterAlreadyExists:
                    pass  # an after-500 made it, and the retry found it: the idempotency case
                assert ssm.get_parameter(Name=f"/c/{n}/{i}")["Parameter"]["Value"] == str(i)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    log = proxy.log()
    assert len(log) > 64 and [r["seq"] for r in log] == list(range(1, len(log) + 1))
    assert 0.1 < sum(r["fault"] is not None for r in log) / len(log) < 0.35


def test_spare_last_attempt_lets_every_sdk_call_through_on_its_last_try(proxy: FaultProxy) -> None:
    """At rate 1 every attempt but the SDK's last is faulted; without the option every call fails."""
    fault(proxy, "500,503,throttle,drop", rate=1.0, spareLastAttempt=True)
    three = Config(retries={"mode": "standard", "total_max_attempts": 3})
    sts = proxy.client("sts", three)
    for _ in range(3):
        assert sts.get_caller_identity()["Account"]
    log = proxy.log()
    assert [r["fault"] is None for r in log] == [False, False, True] * 3
    assert all(r.get("spared") for r in log[2::3])
    assert proxy.control("GET", "config")["spareLastAttempt"] is True
    fault(proxy, "500", rate=1.0, spareLastAttempt=False)
    with pytest.raises(botocore.exceptions.ClientError):
        sts.get_caller_identity()


def test_two_step_arm_holds_answers_until_the_pid_is_known(proxy: FaultProxy) -> None:
    """Arm first, start the process, then name it: no answer can slip past before the pid."""
    assert proxy.control("POST", "kill-after", {"after": 1})["armed"]["pid"] is None
    done = threading.Event()

    def call() -> None:
        proxy.client("sts").get_caller_identity()
        done.set()

    threading.Thread(target=call, daemon=True).start()
    assert not done.wait(0.5)  # forwarded, but its answer is held
    child = subprocess.Popen(["sleep", "60"])
    try:
        proxy.control("POST", "kill-after", {"pid": child.pid})
        assert done.wait(5)
        assert child.wait(timeout=5) == -signal.SIGKILL
        assert proxy.control("GET", "kill-after")["fired"]["pid"] == child.pid
    finally:
        child.kill()
        child.wait()
