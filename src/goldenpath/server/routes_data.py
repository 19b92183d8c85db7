"""Dataset routes: thin shells over :class:`~goldenpath.data.service.DatasetService`.

Routes that only look metadata up (a few indexed queries, well under a millisecond) are
``async def`` and run on the event loop; routes that read or write data files, take a write
lock or scan are plain ``def`` and run in the thread pool. The thread-pool hop costs more
than the lookup itself on a small machine (benchmarks/RESULTS.md, issue 6).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import pyarrow as pa
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from goldenpath.core.errors import InvalidInput
from goldenpath.data.formats import format_suffix
from goldenpath.server import schemas
from goldenpath.server.auth import workspace
from goldenpath.server.json_body import StrictRoute
from goldenpath.server.problems import ERROR_RESPONSES
from goldenpath.server.schemas import answer, content
from goldenpath.server.uploads import UploadWorkers
from goldenpath.workspace import Workspace

router = APIRouter(tags=["datasets"], responses=ERROR_RESPONSES, route_class=StrictRoute)
ARROW_STREAM = "application/vnd.apache.arrow.stream"


WS = Annotated[Workspace, Depends(workspace)]
Version = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Default: newest")]


def _ref(name: str, version: int | None) -> str:
    return name if version is None else f"{name}@{version}"


@contextmanager
def _saved(upload: UploadFile | None, label: str) -> Iterator[Path | None]:
    """An uploaded file on disk (the services read paths), removed afterwards."""
    if upload is None:
        yield None
        return
    suffix = ".yaml" if label == "contract" else format_suffix(upload.filename or "")
    if suffix is None:
        raise InvalidInput(
            f"the uploaded {label} must be named .csv, .parquet or .jsonl",
            hint="a compressed file may add .gz, .zst or .bz2 (e.g. data.csv.gz)",
        )
    folder = Path(tempfile.mkdtemp(prefix="gp-upload-"))
    try:
        path = folder / f"upload{suffix}"
        with open(path, "wb") as handle:
            shutil.copyfileobj(upload.file, handle)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@router.get("/datasets", response_model=None, responses=answer(list[schemas.DatasetSummary]))
async def list_datasets(ws: WS) -> list[dict[str, Any]]:
    """Datasets you can read, with their newest version."""
    return [d.as_dict() for d in ws.datasets.list()]


@router.get("/datasets/{name}", response_model=None, responses=answer(schemas.DatasetVersion))
async def show(ws: WS, name: str, version: Version = None) -> dict[str, Any]:
    """A dataset version: rows, schema, fingerprint, source."""
    return ws.datasets.get(_ref(name, version)).as_dict()


@router.get(
    "/datasets/{name}/versions",
    response_model=None,
    responses=answer(list[schemas.DatasetVersion]),
)
async def history(ws: WS, name: str) -> list[dict[str, Any]]:
    """Every version, oldest first."""
    return [v.as_dict() for v in ws.datasets.history(name)]


@router.get(
    "/datasets/{name}/head",
    response_model=None,
    responses=answer(list[dict[str, schemas.Scalar]], description="Rows, column to value"),
)
def head(
    ws: WS, name: str, version: Version = None, rows: Annotated[int, Query(ge=1, le=10_000)] = 10
) -> list[dict[str, Any]]:
    """The first rows of a version in file order (oldest batch first), as JSON objects."""
    return [
        {k: _jsonable(v) for k, v in row.items()}
        for row in ws.datasets.head(_ref(name, version), rows).to_pylist()
    ]


def _jsonable(value: Any) -> Any:
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)


@router.get(
    "/datasets/{name}/data",
    response_class=Response,
    responses=content(ARROW_STREAM, "The version as an Arrow IPC stream"),
)
def data(
    ws: WS, name: str, version: Version = None, columns: Annotated[list[str] | None, Query()] = None
) -> Response:
    """A whole version as an Arrow IPC stream (what ``ws.datasets.read`` returns remotely)."""
    table = ws.datasets.read(_ref(name, version), columns or None)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return Response(sink.getvalue().to_pybytes(), media_type=ARROW_STREAM)


@router.get("/datasets/{name}/profile", response_model=None, responses=answer(schemas.Profile))
async def profile(ws: WS, name: str, version: Version = None) -> dict[str, Any]:
    """The stored column profile of a version."""
    return ws.datasets.profile(_ref(name, version))


@router.get(
    "/datasets/{name}/validation",
    response_model=None,
    responses=answer(schemas.StoredValidation | None, description="null if never validated"),
)
async def validation(ws: WS, name: str, version: Version = None) -> dict[str, Any] | None:
    """The stored validation report of the batch that produced a version."""
    return ws.datasets.validation(_ref(name, version))


@router.get(
    "/datasets/{name}/quarantine",
    response_model=None,
    responses=answer(list[schemas.QuarantinedRow]),
)
def quarantine(
    ws: WS, name: str, limit: Annotated[int, Query(ge=1, le=100_000)] = 100
) -> list[dict[str, Any]]:
    """Rows held back by the contract."""
    rows = ws.datasets.quarantine(name, limit).to_pylist()
    return [{k: _jsonable(v) if k != "_gp_rules" else v for k, v in r.items()} for r in rows]


def _in_worker(request: Request, ws: Workspace, op: str, **fields: Any) -> dict[str, Any]:
    """Run ``op`` in an upload worker, as the request's principal (its own bearer token)."""
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    uploads: UploadWorkers = request.app.state.uploads
    # The project as the caller named it (or None): an unnamed project means "where the
    # dataset is", which the worker must decide exactly as the server would.
    project = ws.project if ws.project_named else None
    return uploads.run({"op": op, "token": token, "project": project, **fields})


@router.post(
    "/datasets/{name}/versions",
    status_code=201,
    response_model=None,
    responses=answer(schemas.IngestResult, 201, "Created"),
)
def ingest(
    request: Request,
    response: Response,
    ws: WS,
    name: str,
    file: Annotated[UploadFile, File(description="CSV, Parquet or JSON Lines")],
    contract: Annotated[UploadFile | None, File(description="Contract YAML to attach")] = None,
    mode: Annotated[Literal["append", "overwrite"], Form()] = "append",
    allow_breaking: Annotated[bool, Form()] = False,
    force: Annotated[
        bool, Form(description="Record a version even if the batch is already in the dataset")
    ] = False,
) -> dict[str, Any]:
    """Ingest a file as a new version (parsed and written in a worker process).

    201 with the new version; 200 with outcome ``unchanged`` and the version that already
    holds the batch when nothing was written (unless ``force``)."""
    with _saved(file, "file") as path, _saved(contract, "contract") as contract_path:
        assert path is not None
        result = _in_worker(
            request,
            ws,
            "ingest",
            name=name,
            path=str(path),
            contract=str(contract_path) if contract_path else None,
            mode=mode,
            allow_breaking=allow_breaking,
            force=force,
        )
    if result.get("outcome") == "unchanged":
        response.status_code = 200
    return result


@router.post(
    "/datasets/{name}/validate", response_model=None, responses=answer(schemas.ValidationReport)
)
def validate(
    request: Request,
    ws: WS,
    name: str,
    file: Annotated[UploadFile, File()],
    contract: Annotated[UploadFile | None, File()] = None,
) -> dict[str, Any]:
    """Check a file against the contract; writes nothing (parsed in a worker process)."""
    with _saved(file, "file") as path, _saved(contract, "contract") as contract_path:
        assert path is not None
        return _in_worker(
            request,
            ws,
            "validate",
            name=name,
            path=str(path),
            contract=str(contract_path) if contract_path else None,
        )
