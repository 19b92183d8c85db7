"""Native model artifacts in formats that load without running code.

- scikit-learn: ``skops`` (a zip of a JSON schema and ``.npy`` arrays; loading builds objects
  of types it checks first). skops writes generated values into the file (``id()`` of each
  object as ``__id__`` and as array file names, a ``uuid4`` for byte blobs, the time in each
  zip entry, and the uninitialised padding bytes of structured arrays such as a tree's
  nodes), so :func:`canonical_skops` rewrites it: ids and file names numbered in order of
  first appearance, entries with a fixed time, padding zeroed. The same fitted model then
  gives the same bytes.
- LightGBM: its text model format (``Booster.model_to_string``).
- XGBoost: its JSON model format (``Booster.save_raw("json")``).

Loading (:func:`load`) never unpickles: skops loads only if every type the file names that
skops does not already trust is a scikit-learn type (:func:`check_skops_types`); LightGBM and
XGBoost parse their own formats.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from goldenpath.core.errors import InvalidInput

FORMATS = {"sklearn": "skops", "lightgbm": "lightgbm-text", "xgboost": "xgboost-json"}
FILE_NAMES = {"skops": "model.skops", "lightgbm-text": "model.txt", "xgboost-json": "model.json"}
# Types beyond skops' own trusted set that a scikit-learn artifact may name: scikit-learn's
# own classes (estimators, transformers, their helper classes).
TRUSTED_PREFIXES = ("sklearn.",)
# numpy's dtype objects (SimpleImputer keeps the dtype it was fitted on): skops rebuilds one
# from its text name (np.dtype("float64")), which runs no code of the file's choosing.
TRUSTED_TYPES = frozenset({"numpy.dtype"})
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def dump(flavor: str, model: Any) -> bytes:
    """The native artifact of a fitted model of ``flavor``."""
    if flavor == "sklearn":
        import skops.io

        return canonical_skops(skops.io.dumps(model))
    if flavor == "lightgbm":
        booster = model.booster_ if hasattr(model, "booster_") else model
        return str(booster.model_to_string()).encode("utf-8")
    booster = model.get_booster() if hasattr(model, "get_booster") else model
    return bytes(booster.save_raw(raw_format="json"))


def canonical_skops(data: bytes) -> bytes:
    """A skops file rewritten without generated values (see the module's docstring)."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        schema = json.loads(source.read("schema.json"))
        blobs = {name: source.read(name) for name in source.namelist() if name != "schema.json"}
    ids: dict[int, int] = {}
    files: dict[str, str] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, value in node.items():
                if key == "__id__" and isinstance(value, int):
                    out[key] = ids.setdefault(value, len(ids) + 1)
                elif key == "file" and isinstance(value, str) and value in blobs:
                    suffix = value[value.rfind(".") :] if "." in value else ""
                    out[key] = files.setdefault(value, f"{len(files) + 1}{suffix}")
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    schema = walk(schema)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        _put(target, "schema.json", json.dumps(schema, indent=2).encode("utf-8"))
        for old, new in sorted(files.items(), key=lambda item: item[1]):
            data = blobs[old]
            _put(target, new, _zero_padding(data) if new.endswith(".npy") else data)
    return buffer.getvalue()


def _zero_padding(data: bytes) -> bytes:
    """A ``.npy`` of a structured array (a tree's nodes) saved again with its padding
    bytes zeroed: ``np.save`` writes the array's memory, padding included, and padding holds
    whatever was there before (so one model gave different bytes after a reload)."""
    import numpy as np

    array = np.load(io.BytesIO(data), allow_pickle=False)
    if array.dtype.names is None:
        return data
    clean = np.zeros(array.shape, dtype=array.dtype)
    for name in array.dtype.names:
        clean[name] = array[name]
    out = io.BytesIO()
    np.save(out, clean, allow_pickle=False)
    return out.getvalue()


def _put(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data, compresslevel=6)


def check_skops_types(data: bytes) -> list[str]:
    """The types a skops file names beyond skops' trusted set; refused unless every one is a
    scikit-learn type (a function, or another library's class, could run code on load)."""
    import skops.io

    untrusted = sorted(skops.io.get_untrusted_types(data=data))
    refused = [
        t for t in untrusted if not t.startswith(TRUSTED_PREFIXES) and t not in TRUSTED_TYPES
    ]
    if refused:
        raise InvalidInput(
            f"the scikit-learn artifact names type(s) that are not trusted: "
            f"{', '.join(refused[:5])}",
            hint="only scikit-learn classes (and skops' own trusted types) are loaded",
        )
    return untrusted


def load(native_format: str, data: bytes) -> Any:
    """The native model from its artifact, without unpickling: a scikit-learn estimator, a
    ``lightgbm.Booster`` or an ``xgboost.Booster``."""
    if native_format == "skops":
        import skops.io

        return skops.io.loads(data, trusted=check_skops_types(data))
    if native_format == "lightgbm-text":
        import lightgbm

        return lightgbm.Booster(model_str=data.decode("utf-8"))
    if native_format == "xgboost-json":
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(bytearray(data))
        return booster
    raise InvalidInput(f"unknown native format {native_format!r}")
