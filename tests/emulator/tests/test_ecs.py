"""ECS forced deployments as a caller waiting for them meets them: a new PRIMARY deployment
beside the old one, a rollout that takes time, then COMPLETED with the old one gone; or, with
the circuit breaker's verdict, FAILED with the old deployment serving again."""

from __future__ import annotations

import time

from conftest_lifecycle import emu, emu_server, start_emulator, stop_emulator, wait_until  # noqa: F401


def _service(ecs) -> str:
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(
        family="server",
        containerDefinitions=[{"name": "medplum", "image": "medplum/medplum-server:latest", "memory": 512}],
    )
    ecs.create_service(cluster="c", serviceName="s", taskDefinition="server", desiredCount=2)
    return "s"


def _deployments(ecs) -> list[dict]:
    return ecs.describe_services(cluster="c", services=["s"])["services"][0]["deployments"]


def test_a_forced_deployment_rolls_out_over_time(emu) -> None:  # noqa: F811
    ecs = emu.client("ecs")
    _service(ecs)
    before = _deployments(ecs)[0]["id"]
    started = time.monotonic()
    out = ecs.update_service(cluster="c", service="s", forceNewDeployment=True)
    new = out["service"]["deployments"][0]
    assert new["id"] != before
    assert new["status"] == "PRIMARY" and new["rolloutState"] == "IN_PROGRESS"
    now = _deployments(ecs)
    # The old deployment still serves while the new one starts its tasks.
    assert [d["status"] for d in now] == ["PRIMARY", "ACTIVE"]
    assert now[1]["id"] == before
    assert now[0]["runningCount"] < 2

    def completed():
        d = _deployments(ecs)
        return d if d[0]["rolloutState"] == "COMPLETED" else None

    done = wait_until(completed, timeout=10, interval=0.2)
    assert time.monotonic() - started >= 1.5, "the rollout took no time"
    assert [d["id"] for d in done] == [new["id"]]
    assert done[0]["runningCount"] == 2


def test_a_failed_rollout_leaves_the_old_deployment_serving() -> None:
    emu = start_emulator(env={"MEDPLUM_EMULATOR_ECS_ROLLOUT_SECONDS": "0.3", "MEDPLUM_EMULATOR_ECS_ROLLOUT_FAILS": "1"})
    try:
        ecs = emu.client("ecs")
        _service(ecs)
        before = _deployments(ecs)[0]["id"]
        new = ecs.update_service(cluster="c", service="s", forceNewDeployment=True)["service"]["deployments"][0]

        def failed():
            d = _deployments(ecs)
            return d if any(x.get("rolloutState") == "FAILED" for x in d) else None

        d = wait_until(failed, timeout=10, interval=0.1)
        assert d[0]["id"] == before and d[0]["status"] == "PRIMARY"
        failed_one = next(x for x in d if x["id"] == new["id"])
        assert failed_one["status"] == "ACTIVE"
        assert "circuit breaker" in failed_one["rolloutStateReason"]
    finally:
        stop_emulator(emu)
