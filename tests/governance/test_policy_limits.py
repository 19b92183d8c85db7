"""Policies are bounded (time, input size, nesting), fail closed on a bound, and never run
under the metadata database's write lock."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

import goldenpath
from goldenpath.core.errors import PolicyDenied
from goldenpath.governance import policies
from tests.conftest import write
from tests.server.conftest import serving

# 60 x 60 x 60 comprehension steps: about a minute of pure-Python cel-python work unbounded.
EXPLOSIVE = """\
policies:
  - name: explosive
    actions: [deployment.create]
    allow: >-
      object.xs.all(a, object.xs.exists(b, object.xs.all(c, a + b + c >= 0) && b >= 59))
      && object.xs.size() < 0
    message: never reached
"""
SIXTY = {"xs": list(range(60))}


def wait_until_evaluating(deadline_seconds: float = 30) -> None:
    """Return once a thread of this process is evaluating policies (a fixed sleep is not
    enough on a busy machine: the check may not have begun when the writer starts)."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        for frame in sys._current_frames().values():
            while frame is not None:
                if frame.f_code is policies.evaluate.__code__:
                    return
                frame = frame.f_back
        time.sleep(0.01)
    raise AssertionError(f"no policy evaluation began within {deadline_seconds} s")


@pytest.fixture
def bounded(
    ws: goldenpath.Workspace, monkeypatch: pytest.MonkeyPatch
) -> Iterator[goldenpath.Workspace]:
    """The workspace with the explosive policy, a 0.5 s evaluation limit, viewer bob."""
    monkeypatch.setenv("GP_LIMIT_POLICY_EVALUATION_SECONDS", "0.5")
    folder = ws.stack.home / "policies"
    folder.mkdir(exist_ok=True)
    write(folder / "main.yaml", EXPLOSIVE)
    ws.access.create_project("fraud")
    ws.principals.add("bob")
    ws.access.grant("viewer", "bob", project="fraud")
    with goldenpath.connect(ws.stack.home, metadata=ws.stack.metadata, actor="bob") as bob:
        yield bob


def test_an_explosive_policy_fails_closed_within_its_limit(bounded: goldenpath.Workspace) -> None:
    assert bounded.stack.limits.policy_evaluation_seconds == 0.5
    started = time.monotonic()
    with pytest.raises(PolicyDenied, match=r"did not finish within 0\.5 s") as denied:
        bounded.policies.check("deployment.create", "api@prod", SIXTY, project="fraud")
    assert time.monotonic() - started < 2.0
    assert denied.value.policy == "explosive"
    assert "limits.policy_evaluation_seconds" in str(denied.value)
    # The work stopped: the thread is free again at once (a small list still evaluates).
    with pytest.raises(PolicyDenied, match="explosive"):
        bounded.policies.check("deployment.create", "api@prod", {"xs": [1]}, project="fraud")


def test_oversized_and_deep_inputs_fail_closed_naming_the_policy(
    bounded: goldenpath.Workspace,
) -> None:
    deep: dict[str, object] = {"xs": [1]}
    for _ in range(40):
        deep = {"inner": deep}
    with pytest.raises(
        PolicyDenied, match=r"'explosive' was not evaluated: .*nests deeper than 32"
    ):
        bounded.policies.check("deployment.create", "api@prod", deep, project="fraud")
    decision = bounded.policies.test(
        "explosive", {"object": {"xs": list(range(20_000))}, "project": "fraud"}
    )
    assert not decision.allowed and decision.policy == "explosive"
    assert "policy_input_bytes_max" in decision.message


def test_a_slow_policy_does_not_block_other_writers(
    local_ws: goldenpath.Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite has one writer: a policy evaluated inside a write transaction stalls them all."""
    monkeypatch.setenv("GP_LIMIT_POLICY_EVALUATION_SECONDS", "4")
    folder = local_ws.stack.home / "policies"
    folder.mkdir()
    write(folder / "main.yaml", EXPLOSIVE)
    local_ws.access.create_project("fraud")
    checker = goldenpath.connect(local_ws.stack.home, actor="alice")
    outcome: list[float] = []

    def check() -> None:
        started = time.monotonic()
        with pytest.raises(PolicyDenied, match="did not finish"):
            checker.policies.check("deployment.create", "api@prod", SIXTY, project="fraud")
        outcome.append(time.monotonic() - started)

    thread = threading.Thread(target=check)
    thread.start()
    wait_until_evaluating()
    started = time.monotonic()
    local_ws.access.create_project("churn")
    local_ws.principals.add("pipeline", kind="service")
    token = local_ws.principals.create_token("pipeline", expires_in="1h")
    writes = time.monotonic() - started
    thread.join(timeout=30)
    checker.close()
    assert outcome and 3.5 < outcome[0] < 8.0, outcome  # it ran to its limit, and stopped
    # Behind the evaluation, they would wait for its 4 s limit; 3 s leaves a loaded machine room.
    assert writes < 3.0, f"writers waited {writes:.1f} s behind a policy evaluation"
    assert token.info.principal == "pipeline"


def test_policy_checks_over_http_do_not_starve_token_creation(
    local_ws: goldenpath.Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reported case: viewers calling /policy/check made token creation fail with 503."""
    monkeypatch.setenv("GP_LIMIT_POLICY_EVALUATION_SECONDS", "3")
    folder = local_ws.stack.home / "policies"
    folder.mkdir()
    write(folder / "main.yaml", EXPLOSIVE)
    local_ws.access.create_project("fraud")
    secrets = {}
    for name in ("v1", "v2", "v3"):
        local_ws.principals.add(name)
        local_ws.access.grant("viewer", name, project="fraud")
        secrets[name] = local_ws.principals.create_token(name, expires_in="1h").secret
    admin = local_ws.principals.create_token("alice", expires_in="1h").secret
    body = {"action": "deployment.create", "object": "api@prod", "project": "fraud"}
    with serving(local_ws) as url:
        statuses: list[int] = []

        def check(secret: str) -> None:
            response = httpx.post(
                url + "/api/v1/policy/check",
                json={**body, "attributes": SIXTY},
                headers={"Authorization": f"Bearer {secret}"},
                timeout=60,
            )
            statuses.append(response.status_code)

        threads = [threading.Thread(target=check, args=(s,)) for s in secrets.values()]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        started = time.monotonic()
        created = httpx.post(
            url + "/api/v1/tokens",
            json={"principal": "v1", "expires_in": "1h"},
            headers={"Authorization": f"Bearer {admin}"},
            timeout=60,
        )
        took = time.monotonic() - started
        for thread in threads:
            thread.join(timeout=60)
    assert created.status_code == 201, created.text
    # Behind the checks, it would wait for their 3 s limit (or fail); 2.5 s leaves room.
    assert took < 2.5, f"token creation waited {took:.1f} s behind policy checks"
    assert statuses == [403, 403, 403]


def test_a_normal_policy_still_allows_and_denies(bounded: goldenpath.Workspace) -> None:
    write(
        bounded.stack.home / "policies" / "main.yaml",
        "policies:\n  - name: small\n    actions: [deployment.create]\n"
        "    allow: 'object.xs.all(x, x < 100)'\n    message: too big\n",
    )
    assert bounded.policies.check("deployment.create", "a", SIXTY, project="fraud").allowed
    with pytest.raises(PolicyDenied, match="too big"):
        bounded.policies.check("deployment.create", "a", {"xs": [500]}, project="fraud")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_time_limit_holds_when_the_stop_lands_where_python_drops_it(
    bounded: goldenpath.Workspace,
) -> None:
    """An exception raised in a garbage-collector callback (or a destructor) is printed and
    dropped by Python: a bound that raises once, there, lets the evaluation run unbounded.
    With a collection after every allocation, most of the evaluation runs in callbacks."""
    import gc

    def step() -> None:
        pass

    def callback(phase: str, info: dict[str, int]) -> None:
        for _ in range(50):  # Python work in the callback, where a stop is dropped
            step()

    thresholds = gc.get_threshold()
    gc.callbacks.append(callback)
    gc.set_threshold(1, 1, 1)
    try:
        started = time.monotonic()
        with pytest.raises(PolicyDenied, match=r"did not finish within 0\.5 s"):
            bounded.policies.check(
                "deployment.create", "api@prod", {"xs": list(range(40))}, project="fraud"
            )
        took = time.monotonic() - started
    finally:
        gc.callbacks.remove(callback)
        gc.set_threshold(*thresholds)
    # Unbounded, it runs for minutes (223 s measured). Bounded, it stops within ~1 s on a
    # quiet machine; everything here (the denial's audit write too) collects garbage after
    # every allocation, so a loaded machine takes longer: 10 s separates the two.
    assert took < 10.0, f"the evaluation ran {took:.1f} s past a 0.5 s limit"
