"""Policy as code: CEL rules checked before actions.

Policies live in the workspace's ``policies/`` directory, one or more per YAML file::

    policies:
      - name: prod-deploys-need-approval
        description: Production deployments need an approver's sign-off and a good model.
        actions: [deployment.create]          # fnmatch globs: "dataset.*"
        when: 'object.environment == "prod"'  # optional: where the policy applies
        allow: 'approved && object.model.metrics.roc_auc >= 0.8'
        message: prod needs an approval and roc_auc >= 0.8
        approval: true                        # a denial opens an approval request

Every expression is compiled when the policies are loaded, so a policy that does not compile
is reported (file, policy name, CEL error) before any action runs. Evaluation fails closed: an
expression that errors (a missing attribute, a type clash) denies, naming the policy.

Evaluation is bounded, and also fails closed on a bound, naming the policy: the input's JSON
at most ``limits.policy_input_bytes_max`` bytes and ``limits.nesting_depth_max`` deep, and
each policy (``when`` and ``allow`` together) at most ``limits.policy_evaluation_seconds``.
cel-python is pure Python, so the time bound raises inside the evaluating thread once the
deadline has passed (:func:`goldenpath.core.deadlines.call_before`): the work really stops,
in the thread that started it, and the thread is free again at once. Callers evaluate outside any
database transaction, so a slow policy never holds the metadata database's write lock.

The input to ``when`` and ``allow``: ``action`` (string), ``actor`` ({name, kind}),
``object`` (the action's attributes), ``project`` (string or null), ``approved`` (an approver
signed off this action on this object), ``now`` (ISO time).
"""

from __future__ import annotations

import builtins
import fnmatch
import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from goldenpath.core.actor import Actor
from goldenpath.core.clock import utcnow
from goldenpath.core.deadlines import call_before
from goldenpath.core.errors import InvalidInput, NotFound
from goldenpath.core.limits import Limits
from goldenpath.core.yamlfile import parse_yaml_model, read_text

NAME = r"^[a-z][a-z0-9_-]{0,62}$"


class PolicySpec(BaseModel):
    """One policy as written in a file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME)
    description: str = ""
    actions: list[str] = Field(min_length=1)
    when: str | None = None
    allow: str
    message: str
    approval: bool = False


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policies: list[PolicySpec] = Field(default_factory=list)


@dataclass(frozen=True)
class Decision:
    """The outcome of checking one action against every policy that applies to it."""

    allowed: bool
    policy: str | None = None  # the first policy that denied
    message: str = ""
    approvable: bool = False
    evaluated: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hold:
    """An action its policies allow, not carried out yet (``PolicyService.hold``): the
    approval it relies on, if any, is spent only with the check of the action that completes
    it (``enforce(..., holds=[hold])``), so a change that needs two actions' policies (a prod
    promotion: the deployment's and the model's) spends nothing when the second refuses."""

    action: str
    object_ref: str
    attributes: dict[str, Any]
    project: str | None
    approval: str | None  # the approved request relied on; None if none was needed


@dataclass(frozen=True)
class Policy:
    spec: PolicySpec
    source: str
    when: Any  # compiled celpy Runner, or None
    allow: Any

    def applies_to(self, action: str) -> bool:
        return any(fnmatch.fnmatchcase(action, pattern) for pattern in self.spec.actions)


_CACHE: dict[Path, tuple[tuple[tuple[str, float], ...], list[Policy]]] = {}


@functools.cache
def _environment() -> Any:
    # Built on first use: importing celpy and building its parser costs ~0.5 s, which every
    # gp command would otherwise pay whether or not a policy is ever evaluated.
    import celpy

    return celpy.Environment()


def _compile(expression: str, where: str) -> Any:
    env = _environment()
    try:
        return env.program(env.compile(expression))
    except Exception as exc:  # celpy raises parse errors of several kinds
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(
            f"{where}: CEL does not compile: {first}: {expression!r}",
            hint="fix the expression; see docs/governance.md",
        ) from None


def load_policies(directory: Path) -> list[Policy]:
    """Every policy under ``directory`` (``*.yaml``), compiled; cached until a file changes."""
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    stamp = tuple((str(f), f.stat().st_mtime) for f in files)
    cached = _CACHE.get(directory)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    policies: list[Policy] = []
    seen: dict[str, str] = {}
    for path in files:
        parsed = parse_yaml_model(
            read_text(path), PolicyFile, source=str(path), docs="docs/governance.md"
        )
        for spec in parsed.policies:
            where = f"{path.name}: policy {spec.name!r}"
            if spec.name in seen:
                raise InvalidInput(f"{where}: the name is also used in {seen[spec.name]}")
            seen[spec.name] = path.name
            when = _compile(spec.when, f"{where} (when)") if spec.when else None
            policies.append(Policy(spec, path.name, when, _compile(spec.allow, f"{where} (allow)")))
    _CACHE[directory] = (stamp, policies)
    return policies


class _OutOfTime(BaseException):
    """Raised inside an evaluation past its deadline. A BaseException, so that no
    ``except Exception`` in cel-python or lark can swallow it and carry on."""


def _run(program: Any, activation: dict[str, Any], deadline: float) -> tuple[bool, str | None]:
    """Evaluate to a boolean; an error (or a non-boolean) is reported, and denies. Raises
    :class:`_OutOfTime` once ``deadline`` (``time.monotonic()``) has passed."""
    try:
        value = call_before(deadline, _OutOfTime, lambda: program.evaluate(activation))
    except _OutOfTime:
        raise
    except Exception as exc:  # celpy's CELEvalError and friends
        return False, str(exc.args[0]) if exc.args else type(exc).__name__
    from celpy.celtypes import BoolType

    if not isinstance(value, BoolType):
        return False, f"the expression gave {value!r}, not true or false"
    return bool(value), None


def _too_deep(value: Any, limit: int) -> bool:
    """Whether a JSON value nests deeper than ``limit`` (without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _input_problem(text: str, value: Any, limits: Limits) -> str | None:
    if len(text.encode()) > limits.policy_input_bytes_max:
        return (
            f"its input is larger than {limits.policy_input_bytes_max:,} bytes of JSON "
            "(limits.policy_input_bytes_max)"
        )
    if _too_deep(value, limits.nesting_depth_max):
        return f"its input nests deeper than {limits.nesting_depth_max} (limits.nesting_depth_max)"
    return None


def evaluate(
    policies: list[Policy],
    action: str,
    actor: Actor,
    attributes: dict[str, Any],
    *,
    project: str | None,
    approved: bool,
    limits: Limits | None = None,
) -> Decision:
    """Check ``action`` against every applicable policy; the first denial wins. Call it
    outside any database transaction: it may take up to ``limits.policy_evaluation_seconds``
    per policy."""
    limits = limits or Limits()
    applicable = [p for p in policies if p.applies_to(action)]
    if not applicable:
        return Decision(True)
    text = json.dumps(attributes, default=str)
    obj = json.loads(text)
    problem = _input_problem(text, obj, limits)
    if problem is not None:
        first = applicable[0].spec.name
        return Decision(False, first, f"policy {first!r} was not evaluated: {problem}")
    document = {
        "action": action,
        "actor": {"name": actor.name, "kind": actor.kind},
        "object": obj,
        "project": project,
        "approved": approved,
        "now": utcnow().isoformat(),
    }
    from celpy.adapter import json_to_cel

    activation = {key: json_to_cel(value) for key, value in document.items()}
    evaluated: list[str] = []
    for policy in applicable:
        name = policy.spec.name
        deadline = time.monotonic() + limits.policy_evaluation_seconds
        try:
            applies, error = (
                _run(policy.when, activation, deadline) if policy.when is not None else (True, None)
            )
            if error:
                return Decision(
                    False,
                    name,
                    f"{policy.spec.message} ({error})",
                    policy.spec.approval,
                    tuple(evaluated),
                )
            if not applies:
                continue
            evaluated.append(name)
            allowed, error = _run(policy.allow, activation, deadline)
        except _OutOfTime:
            return Decision(
                False,
                name,
                f"policy {name!r} did not finish within {limits.policy_evaluation_seconds:g} s "
                "(limits.policy_evaluation_seconds), so it denies",
                False,
                tuple(evaluated),
            )
        if not allowed:
            detail = f" ({error})" if error else ""
            return Decision(
                False,
                name,
                f"{policy.spec.message}{detail}",
                policy.spec.approval,
                tuple(evaluated),
            )
    return Decision(True, evaluated=tuple(evaluated))


def sample_policy(name: str) -> str:
    """A policy file holding one policy named ``name``, to edit: restricted data needs an
    approver's sign-off before it is ingested."""
    return f"""# A goldenpath policy file: see docs/governance.md (Policies). Edit it, then check it
# with: gp policy list, and try it with: gp policy test {name} --attr classification=restricted
policies:
  - name: {name}
    description: Restricted data needs an approver's sign-off before it is ingested.
    actions: [dataset.ingest]                        # globs, e.g. "dataset.*"
    when: 'object.classification == "restricted"'    # where it applies (the contract says)
    allow: approved                                  # CEL; sees action, actor, object, project
    message: restricted data needs an approver's sign-off
    approval: true                                   # a denial opens an approval request
"""


def find(policies: builtins.list[Policy], name: str) -> Policy:
    for policy in policies:
        if policy.spec.name == name:
            return policy
    raise NotFound(f"no policy named {name!r}", hint="see them with: gp policy list")
