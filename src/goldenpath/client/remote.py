"""Remote counterparts of the workspace services, with the same names and return types."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pyarrow as pa

from goldenpath.client.http import Http
from goldenpath.core.errors import InvalidInput
from goldenpath.core.names import validate_name
from goldenpath.core.progress import Progress
from goldenpath.data import Mode
from goldenpath.data.validation import ValidationReport
from goldenpath.data.versions import DatasetSummary, DatasetVersion, IngestResult, PendingCheck
from goldenpath.features.materialize import MaterializeResult, ViewMaterialization
from goldenpath.features.online_inputs import to_entity_rows
from goldenpath.features.online_service import OnlineResult, PushResult
from goldenpath.features.service import CatalogEntry
from goldenpath.features.training_sets import TrainingSetInfo
from goldenpath.governance import Kind
from goldenpath.governance.access import Grant, Project
from goldenpath.governance.approvals import ApprovalRequest
from goldenpath.governance.audit import AuditEvent, AuditVerification
from goldenpath.governance.policies import Decision
from goldenpath.governance.principals import CreatedToken, Principal, TokenInfo
from goldenpath.lineage.service import Lineage
from goldenpath.registry.service import AliasMove, ModelSummary, ModelVersion, Promotion
from goldenpath.training.run_log import Pending, RunLogger
from goldenpath.training.runs import RunComparison, RunInfo
from goldenpath.workspace import WorkspaceStatus

if TYPE_CHECKING:
    import pandas as pd


def _ref_params(ref: str) -> tuple[str, dict[str, Any]]:
    name, _, version = ref.partition("@")
    return name, ({"version": version} if version else {})


def _file(path: Path, label: str) -> tuple[str, IO[bytes], str]:
    if not path.is_file():
        raise InvalidInput(f"file not found: {path}", hint="check the path")
    return (path.name, open(path, "rb"), "application/octet-stream")


class RemoteDatasets:
    """``ws.datasets`` over HTTP."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def list(self) -> builtins.list[DatasetSummary]:
        return [DatasetSummary.from_dict(d) for d in self._http.json("GET", "/datasets")]

    def get(self, ref: str) -> DatasetVersion:
        name, params = _ref_params(ref)
        return DatasetVersion.from_dict(self._http.json("GET", f"/datasets/{name}", params=params))

    def history(self, name: str) -> builtins.list[DatasetVersion]:
        return [
            DatasetVersion.from_dict(v)
            for v in self._http.json("GET", f"/datasets/{name}/versions")
        ]

    def read(self, ref: str, columns: builtins.list[str] | None = None) -> pa.Table:
        name, params = _ref_params(ref)
        if columns:
            params["columns"] = columns
        body = self._http.request("GET", f"/datasets/{name}/data", params=params).content
        return pa.ipc.open_stream(body).read_all()

    def read_pandas(self, ref: str, columns: builtins.list[str] | None = None) -> pd.DataFrame:
        return self.read(ref, columns).to_pandas()

    def head(self, ref: str, rows: int = 10) -> pa.Table:
        name, params = _ref_params(ref)
        return pa.Table.from_pylist(
            self._http.json("GET", f"/datasets/{name}/head", params={**params, "rows": rows})
        )

    def profile(self, ref: str) -> dict[str, Any]:
        name, params = _ref_params(ref)
        return dict(self._http.json("GET", f"/datasets/{name}/profile", params=params))

    def validation(self, ref: str) -> dict[str, Any] | None:
        name, params = _ref_params(ref)
        result = self._http.json("GET", f"/datasets/{name}/validation", params=params)
        return dict(result) if result else None

    def quarantine(self, name: str, limit: int | None = None) -> pa.Table:
        rows = self._http.json(
            "GET", f"/datasets/{name}/quarantine", params={"limit": limit or 100_000}
        )
        return pa.Table.from_pylist(rows)

    def _upload(self, path: Path, contract: Path | None) -> dict[str, Any]:
        files = {"file": _file(path, "file")}
        if contract is not None:
            files["contract"] = _file(contract, "contract")
        return files

    def ingest(
        self,
        name: str,
        path: Path,
        *,
        mode: Mode = "append",
        contract: Path | None = None,
        fmt: str | None = None,
        allow_breaking: bool = False,
        force: bool = False,
        progress: Progress | None = None,
    ) -> IngestResult:
        files = self._upload(path, contract)
        try:
            body = self._http.json(
                "POST",
                f"/datasets/{name}/versions",
                files=files,
                data={"mode": mode, "allow_breaking": str(allow_breaking), "force": str(force)},
            )
        finally:
            for _, handle, _ in files.values():
                handle.close()
        return IngestResult.from_dict(body)

    def validate(
        self, name: str, path: Path, *, contract: Path | None = None, fmt: str | None = None
    ) -> ValidationReport:
        files = self._upload(path, contract)
        try:
            body = self._http.json("POST", f"/datasets/{name}/validate", files=files)
        finally:
            for _, handle, _ in files.values():
                handle.close()
        return ValidationReport.from_dict(body)


class RemoteAudit:
    """``ws.audit`` over HTTP."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def list(
        self,
        *,
        limit: int = 50,
        action: str | None = None,
        object_ref: str | None = None,
        actor: str | None = None,
    ) -> builtins.list[AuditEvent]:
        params = {
            k: v
            for k, v in {
                "limit": limit,
                "action": action,
                "object": object_ref,
                "actor": actor,
            }.items()
            if v is not None
        }
        return [
            AuditEvent.from_dict(e) for e in self._http.json("GET", "/audit/events", params=params)
        ]

    def verify(self, anchor: Mapping[str, Any] | None = None) -> AuditVerification:
        if anchor is None:
            return AuditVerification.from_dict(self._http.json("GET", "/audit/verify"))
        # Sent as given: the server answers 422 for anything that is not a checkpoint.
        body = {"anchor": dict(anchor) if isinstance(anchor, Mapping) else anchor}
        return AuditVerification.from_dict(self._http.json("POST", "/audit/verify", json=body))

    def checkpoint(self) -> dict[str, Any]:
        return dict(self._http.json("POST", "/audit/checkpoint"))

    def export_checkpoint(self) -> dict[str, Any]:
        return dict(self._http.json("GET", "/audit/checkpoint"))

    def rotate_key(self, *, old_key_lost: bool = False) -> dict[str, Any]:
        body = {"old_key_lost": old_key_lost}
        return dict(self._http.json("POST", "/audit/rotate-key", json=body))

    def export(self, out: IO[str], *, since: Any = None) -> int:
        params = {"since": since.isoformat()} if since is not None else {}
        text = self._http.request("GET", "/audit/export", params=params).text
        out.write(text)
        return text.count("\n")


class RemoteAccess:
    """``ws.access`` over HTTP."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def whoami(self) -> dict[str, Any]:
        return dict(self._http.json("GET", "/whoami"))

    def grant(
        self, role: str, principal: str, *, project: str | None = None, team: str | None = None
    ) -> Grant:
        body = {"role": role, "principal": principal, "project": project, "team": team}
        return Grant.from_dict(self._http.json("POST", "/grants", json=body))

    def revoke(
        self, role: str, principal: str, *, project: str | None = None, team: str | None = None
    ) -> None:
        body = {"role": role, "principal": principal, "project": project, "team": team}
        self._http.json("POST", "/grants/revoke", json=body)

    def list(
        self, *, principal: str | None = None, project: str | None = None
    ) -> builtins.list[Grant]:
        params = {k: v for k, v in {"principal": principal, "project": project}.items() if v}
        return [Grant.from_dict(g) for g in self._http.json("GET", "/grants", params=params)]

    def create_project(self, name: str, *, team: str = "default") -> Project:
        return Project.from_dict(
            self._http.json("POST", "/projects", json={"name": name, "team": team})
        )

    def projects(self) -> builtins.list[Project]:
        return [Project.from_dict(p) for p in self._http.json("GET", "/projects")]


class RemotePrincipals:
    """``ws.principals`` over HTTP."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def add(
        self,
        name: str,
        *,
        kind: Kind = "user",
        owner: str | None = None,
        allowed_actions: builtins.list[str] | None = None,
        expires_in: str | None = None,
    ) -> Principal:
        body = {
            "name": name,
            "kind": kind,
            "owner": owner,
            "allowed_actions": allowed_actions,
            "expires_in": expires_in,
        }
        return Principal.from_dict(self._http.json("POST", "/principals", json=body))

    def list(self) -> builtins.list[Principal]:
        return [Principal.from_dict(p) for p in self._http.json("GET", "/principals")]

    def disable(self, name: str) -> None:
        self._http.json("POST", f"/principals/{name}/disable")

    def create_token(
        self,
        principal: str,
        *,
        expires_in: str | None = None,
        scopes: builtins.list[str] | None = None,
    ) -> CreatedToken:
        body = self._http.json(
            "POST",
            "/tokens",
            json={"principal": principal, "expires_in": expires_in, "scopes": scopes},
        )
        secret = body.pop("token")
        return CreatedToken(TokenInfo.from_dict(body), secret)

    def revoke_token(self, token_id: str) -> None:
        self._http.json("DELETE", f"/tokens/{token_id}")

    def tokens(self, principal: str | None = None) -> builtins.list[TokenInfo]:
        params = {"principal": principal} if principal else {}
        return [TokenInfo.from_dict(t) for t in self._http.json("GET", "/tokens", params=params)]


def _decision(body: dict[str, Any]) -> Decision:
    return Decision(
        body["allowed"], body["policy"], body["message"], evaluated=tuple(body["evaluated"])
    )


class RemotePolicies:
    """``ws.policies`` over HTTP."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def list(self) -> builtins.list[dict[str, Any]]:
        return list(self._http.json("GET", "/policies"))

    def test(self, name: str, document: dict[str, Any]) -> Decision:
        return _decision(self._http.json("POST", f"/policies/{name}/test", json=document))

    def check(
        self,
        action: str,
        object_ref: str,
        attributes: dict[str, Any] | None = None,
        *,
        project: str | None = None,
    ) -> Decision:
        document = {"action": action, "object": object_ref, "attributes": attributes or {}}
        if project is not None:
            document["project"] = project
        return _decision(self._http.json("POST", "/policy/check", json=document))

    def approve(
        self, request_id: str, *, reject: bool = False, reason: str | None = None
    ) -> ApprovalRequest:
        body = self._http.json(
            "POST", f"/approvals/{request_id}", json={"reject": reject, "reason": reason}
        )
        return ApprovalRequest.from_dict(body)

    def approvals(self, status: str | None = None) -> builtins.list[ApprovalRequest]:
        params = {"status": status} if status else {}
        return [
            ApprovalRequest.from_dict(a)
            for a in self._http.json("GET", "/approvals", params=params)
        ]


class RemoteFeatures:
    """``ws.features`` over HTTP: the catalog, stored training sets, online lookup, push and
    materialisation (building training sets, applying definitions and on-demand features run
    project code, so they stay local)."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def list(self) -> builtins.list[CatalogEntry]:
        return [CatalogEntry.from_dict(e) for e in self._http.json("GET", "/features")]

    def show(self, name: str) -> CatalogEntry:
        validate_name(name, kind="feature definition name")
        return CatalogEntry.from_dict(self._http.json("GET", f"/features/{name}"))

    def training_sets(self, name: str | None = None) -> builtins.list[TrainingSetInfo]:
        params = {"name": name} if name is not None else {}
        return [
            TrainingSetInfo.from_dict(i)
            for i in self._http.json("GET", "/training-sets", params=params)
        ]

    def get_training_set(self, ref: str) -> TrainingSetInfo:
        name, params = _ref_params(ref)
        return TrainingSetInfo.from_dict(
            self._http.json("GET", f"/training-sets/{name}", params=params)
        )

    def online(
        self,
        entity_rows: Any,
        features: Sequence[str] | None = None,
        *,
        service: str | None = None,
        at: datetime | None = None,
        keys_as_text: bool = False,
    ) -> OnlineResult:
        """Online values of stored features (row-level and windowed); on-demand features run
        project code, so they are served locally only (the server answers 400).
        ``keys_as_text``: as the local ``ws.features.online``."""
        rows = [_jsonable(r) for r in to_entity_rows(entity_rows)]
        body = {
            "entities": rows,
            "features": None if features is None else list(features),
            "service": service,
            "at": None if at is None else at.isoformat(),
            "keys_as_text": keys_as_text,
        }
        answer = self._http.json("POST", "/features/online", json=body)
        names = list(answer["statuses"])
        given = [{k: v for k, v in row.items() if k not in names} for row in answer["rows"]]
        return OnlineResult(
            datetime.fromisoformat(answer["at"]),
            given,
            {n: [row[n] for row in answer["rows"]] for n in names},
            answer["statuses"],
            answer["ages"],
        )

    def push(self, view: str, rows: Any) -> PushResult:
        """Append rows to the view's dataset (contract-checked) and write them online."""
        validate_name(view, kind="feature view name")
        listed = to_entity_rows(rows)
        answer = self._http.json(
            "POST", f"/features/views/{view}/push", json={"rows": [_jsonable(r) for r in listed]}
        )
        return PushResult(
            answer["view"],
            answer["rows"],
            answer["dataset_version"],
            _materialization(answer["online"]),
            list(answer.get("pending_rules", [])),
            list(answer.get("not_applied_rules", [])),
        )

    def materialize(
        self,
        views: Sequence[str] | None = None,
        *,
        full: bool = False,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> MaterializeResult:
        """Materialisation runs in the server (batch views need no project code)."""
        body = {
            "views": None if views is None else list(views),
            "full": full,
            "start": None if start is None else start.isoformat(),
            "end": None if end is None else end.isoformat(),
        }
        answer = self._http.json("POST", "/features/materialize", json=body)
        return MaterializeResult(
            [_materialization(v) for v in answer["views"]],
            [PendingCheck.from_dict(c) for c in answer.get("contract_checks", [])],
        )


class RemoteModels:
    """``ws.models`` over HTTP: look-ups, aliases and promotion. Registration and scoring
    stay local (no route receives a model; ``predict`` runs where the SDK runs)."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def list(self) -> builtins.list[ModelSummary]:
        return [ModelSummary.from_dict(m) for m in self._http.json("GET", "/models")]

    def get(self, ref: str) -> ModelVersion:
        return ModelVersion.from_dict(self._http.json("GET", f"/models/{_path(ref)}"))

    show = get

    def card(self, ref: str) -> dict[str, Any]:
        return self.get(ref).card

    def alias(self, ref: str, alias: str) -> AliasMove:
        name, _, version = ref.partition("@")
        if not version.isascii() or not version.isdigit():
            raise InvalidInput(f"alias needs a version number: {ref!r}", hint="e.g. fraud@3")
        body = {"alias": alias, "version": int(version)}
        return AliasMove.from_dict(
            self._http.json("POST", f"/models/{_path(name)}/aliases", json=body)
        )

    def delete_alias(self, name: str, alias: str, *, reason: str | None = None) -> AliasMove:
        body: dict[str, Any] = {"alias": alias, "delete": True}
        if reason is not None:
            body["reason"] = reason
        return AliasMove.from_dict(
            self._http.json("POST", f"/models/{_path(name)}/aliases", json=body)
        )

    def promote(
        self, ref: str, alias: str = "champion", *, force: bool = False, reason: str | None = None
    ) -> Promotion:
        body = {"alias": alias, "force": force, "reason": reason}
        return Promotion.from_dict(
            self._http.json("POST", f"/models/{_path(ref)}/promote", json=body)
        )


def _path(ref: str) -> str:
    """A model reference as one path segment (names and aliases cannot hold ``/``)."""
    from urllib.parse import quote

    return quote(ref, safe="@")


def _jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, (datetime, date)) else v for k, v in row.items()}


def _materialization(data: Mapping[str, Any]) -> ViewMaterialization:
    def when(text: str | None) -> datetime | None:
        return None if text is None else datetime.fromisoformat(text)

    return ViewMaterialization(
        data["view"],
        data["mode"],
        data["rows_read"],
        data["entities_written"],
        {k: list(v) for k, v in data["dataset_versions"].items()},
        when(data["event_start"]),
        when(data["event_end"]),
        data["seconds"],
    )


class RemoteActiveRun(RunLogger):
    """A run open over HTTP (``ws.runs.start`` on a remote workspace): logging is buffered as
    in process (training/run_log.py) and sent with ``POST /runs/{id}/log``; artifacts, inputs
    and the environment after start are written by a local workspace only."""

    def __init__(self, http: Http, info: RunInfo) -> None:
        super().__init__(info.id, info.name, info.experiment, info.params)
        self._http = http
        self.project = info.project

    def __enter__(self) -> RemoteActiveRun:
        return self

    def _require_write(self) -> None:
        pass  # the server checks run.write on every call

    def _body(self, pending: Pending) -> dict[str, Any]:
        return {
            "params": {k: text for k, (text, _) in pending.params.items()},
            "metrics": [{"key": p.key, "value": p.value, "step": p.step} for p in pending.metrics],
            "tags": dict(pending.tags),
        }

    def _write(self, pending: Pending) -> None:
        self._http.json("POST", f"/runs/{self.id}/log", json=self._body(pending))

    def _finish(
        self, pending: Pending, status: str, cpu_s: float | None, error: dict[str, str] | None
    ) -> None:
        if pending:
            self._write(pending)
        body = {"status": status, "cpu_s": cpu_s, "error": error}
        self._http.json("POST", f"/runs/{self.id}/end", json=body)

    def _local_only(self, what: str) -> InvalidInput:
        return InvalidInput(
            f"{what} is not sent over HTTP",
            hint="log it with a local workspace (goldenpath.connect(path)), or as params, "
            "metrics and tags",
        )

    def log_artifact(self, name: str, data: bytes | Path) -> Any:
        raise self._local_only("an artifact")

    def log_text(self, name: str, text: str) -> Any:
        raise self._local_only("an artifact")

    def add_input(
        self, kind: str, id: str, ref: str, attributes: Mapping[str, Any] | None = None
    ) -> None:
        raise self._local_only("an input (a lineage edge)")

    def set_environment(self, env: Mapping[str, Any]) -> None:
        raise self._local_only("an environment after start")

    def info(self) -> RunInfo:
        self.flush()
        return RunInfo.from_dict(self._http.json("GET", f"/runs/{self.id}"))


class RemoteRuns:
    """``ws.runs`` over HTTP: start (a context manager logging over HTTP), get, list, compare."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def start(
        self,
        name: str | None = None,
        *,
        experiment: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        seed: int | None = None,
        source: str = "notebook",
        rerun_of: str | None = None,
    ) -> RemoteActiveRun:
        from goldenpath.training.run_log import param_value
        from goldenpath.training.runs import _base_environment

        body = {
            "name": name,
            "experiment": experiment,
            "params": {str(k): param_value(str(k), v)[0] for k, v in (params or {}).items()},
            "tags": {str(k): str(v) for k, v in (tags or {}).items()},
            "seed": seed,
            "source": source,
            "rerun_of": rerun_of,
            "environment": _base_environment(),
        }
        info = RunInfo.from_dict(self._http.json("POST", "/runs", json=body))
        return RemoteActiveRun(self._http, info)

    def get(self, run: str) -> RunInfo:
        return RunInfo.from_dict(self._http.json("GET", f"/runs/{_run_path(run)}"))

    def list(
        self,
        filter: str | None = None,
        order_by: Sequence[str] | str | None = None,
        limit: int = 100,
        experiment: str | None = None,
        status: str | None = None,
    ) -> builtins.list[RunInfo]:
        orders = [order_by] if isinstance(order_by, str) else list(order_by or [])
        params: dict[str, Any] = {"limit": limit}
        for key, value in (("filter", filter), ("experiment", experiment), ("status", status)):
            if value is not None:
                params[key] = value
        if orders:
            params["order_by"] = orders
        return [RunInfo.from_dict(r) for r in self._http.json("GET", "/runs", params=params)]

    def compare(self, a: str, b: str) -> RunComparison:
        path = f"/runs/{_run_path(a)}/compare/{_run_path(b)}"
        return RunComparison.from_dict(self._http.json("GET", path))


def _run_path(run: str) -> str:
    """A run id or prefix as a path segment: letters and digits only (anything else could
    change the path), else the same error the service gives."""
    if not isinstance(run, str) or not run.strip().isalnum() or not run.strip().isascii():
        raise InvalidInput(
            f"not a run id: {str(run)[:40]!r} (a run id is 26 letters and digits; give at "
            "least its first 6)",
            hint="see the runs with: gp runs list",
        )
    return run.strip()


class RemoteLineage:
    """``ws.lineage`` over HTTP: the same queries; an export sends the server's events from
    the caller's machine."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def upstream(self, ref: str) -> Lineage:
        return Lineage.from_dict(self._http.json("GET", "/lineage/upstream", params={"ref": ref}))

    def downstream(self, ref: str) -> Lineage:
        return Lineage.from_dict(self._http.json("GET", "/lineage/downstream", params={"ref": ref}))

    def openlineage_events(
        self, *, since: datetime | None = None, limit: int = 1000, namespace: str = "goldenpath"
    ) -> builtins.list[dict[str, Any]]:
        if since is not None and since.utcoffset() is None:
            raise InvalidInput(
                f"since {since.isoformat()} has no time zone",
                hint="give a time zone, e.g. 2026-12-01T20:00:00Z",
            )
        params: dict[str, Any] = {"limit": limit, "namespace": namespace}
        if since is not None:
            params["since"] = since.isoformat()
        return list(self._http.json("GET", "/lineage/openlineage-events", params=params))

    def export_openlineage(
        self,
        target: str,
        *,
        since: datetime | None = None,
        limit: int = 1000,
        namespace: str = "goldenpath",
    ) -> int:
        from goldenpath.lineage import openlineage

        events = self.openlineage_events(since=since, limit=limit, namespace=namespace)
        return openlineage.emit(events, target)


class _RemoteActor:
    def __init__(self, name: str, kind: str) -> None:
        self.name, self.kind = name, kind


class RemoteWorkspace:
    """A workspace served by ``gp server``: the SDK's names, over HTTP."""

    def __init__(self, url: str, token: str | None, project: str | None = None) -> None:
        self._http = Http(url, token, project)
        self.datasets = RemoteDatasets(self._http)
        self.audit = RemoteAudit(self._http)
        self.access = RemoteAccess(self._http)
        self.principals = RemotePrincipals(self._http)
        self.policies = RemotePolicies(self._http)
        self.features = RemoteFeatures(self._http)
        self.models = RemoteModels(self._http)
        self.runs = RemoteRuns(self._http)
        self.lineage = RemoteLineage(self._http)
        me = self.access.whoami()["principal"]  # authenticates now, not at first use
        self.actor = _RemoteActor(me["name"], me["kind"])
        self.project = project or "default"
        self.url = self._http.base_url

    def status(self) -> WorkspaceStatus:
        return WorkspaceStatus(**self._http.json("GET", "/status"))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteWorkspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteWorkspace({self.url!r}, principal={self.actor.name!r})"
