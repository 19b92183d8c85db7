"""One error hierarchy for the whole platform.

Every error a user can cause is a :class:`GoldenpathError` carrying a one-line message, an
optional hint saying what to do, and the exit code the CLI returns. Capabilities raise these at
their edge; a ``KeyError`` or a driver's exception never reaches the user.

``str(error)`` is the message and, on a second line, the hint: a notebook's traceback shows
only ``str(error)``, and the hint is the part that says what to do. Whatever prints the two
separately (the CLI's ``error:``/``hint:`` lines) or carries them across a boundary (a problem
document's ``detail`` and ``hint``, an upload worker's reply) uses ``.message`` and ``.hint``,
never ``str(error)``, so the hint appears once.
"""

from __future__ import annotations


class GoldenpathWarning(UserWarning):
    """Base class of the warnings a user should read: the CLI prints each as one ``warning:``
    line on stderr; a notebook shows them as Python shows any warning."""


class GoldenpathError(Exception):
    """Base class: a user-facing failure with a message, a hint and an exit code."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nhint: {self.hint}"


class InvalidInput(GoldenpathError):
    """An argument, a file or a body is malformed: the caller must change what it sends."""

    exit_code = 2
    http_status = 422


class InvalidName(InvalidInput):
    """A user-supplied name or reference does not match the allowed form."""


class ContractError(InvalidInput):
    """A data contract file cannot be read or does not fit the data it governs."""


class Unauthenticated(GoldenpathError):
    """No valid identity: a missing, unknown, expired or revoked token, or an unknown principal."""

    exit_code = 3
    http_status = 401


class PermissionDenied(GoldenpathError):
    """The acting principal may not do this (no role grants it, or a policy denies it)."""

    exit_code = 3
    http_status = 403


class PolicyDenied(PermissionDenied):
    """A policy refused the action. Carries the policy's name and, if it can be approved,
    the approval request to sign off."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        policy: str = "",
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.policy = policy
        self.request_id = request_id


class NotFound(GoldenpathError):
    """The named object (dataset, version, workspace) does not exist."""

    exit_code = 4
    http_status = 404


class Conflict(GoldenpathError):
    """The request is valid but clashes with existing state (a breaking schema change, a race)."""

    exit_code = 5
    http_status = 409


class ValidationFailed(GoldenpathError):
    """Data broke its contract and the contract says to refuse it. Carries the report."""

    exit_code = 6
    http_status = 422

    def __init__(self, message: str, *, hint: str | None = None, report: object = None) -> None:
        super().__init__(message, hint=hint)
        self.report = report


class TrainingFailed(GoldenpathError):
    """A step of a training pipeline failed; the run is recorded as failed, with its
    traceback. ``str()`` names the step and why, in one line."""

    exit_code = 8
    http_status = 422

    def __init__(
        self, step: str, message: str, run_id: str = "", *, hint: str | None = None
    ) -> None:
        super().__init__(
            f"{step} failed: {message}",
            hint=hint
            or (f"see the run with: gp runs show {run_id} --traceback" if run_id else None),
        )
        self.step = step
        self.run_id = run_id


class BackendUnavailable(GoldenpathError):
    """A configured backend (PostgreSQL, Redis, S3) cannot be reached."""

    exit_code = 7
    http_status = 503


_BY_NAME: dict[str, type[GoldenpathError]] = {
    cls.__name__: cls
    for cls in (
        InvalidInput,
        InvalidName,
        ContractError,
        Unauthenticated,
        PermissionDenied,
        NotFound,
        Conflict,
        ValidationFailed,
        BackendUnavailable,
    )
}


def rebuild(
    kind: str,
    message: str,
    hint: str | None = None,
    *,
    policy: str = "",
    request_id: str | None = None,
) -> GoldenpathError | None:
    """One of our errors again, from its class name as it crossed a process or HTTP boundary
    (a problem document's ``title``, an upload worker's reply); None if ``kind`` is not ours."""
    if kind == "PolicyDenied":
        return PolicyDenied(message, hint=hint, policy=policy, request_id=request_id)
    cls = _BY_NAME.get(kind)
    return None if cls is None else cls(message, hint=hint)
