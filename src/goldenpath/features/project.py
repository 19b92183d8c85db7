"""Loading a project's ``features.py`` into checked :class:`Definitions`.

Project code runs here, in the CLI or SDK process that plans, applies or builds, never inside
the control-plane server. A file that fails to import is reported with its path and line.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from goldenpath.core.errors import InvalidInput, NotFound
from goldenpath.features.definitions import (
    Definition,
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    parse_feature_ref,
)


@dataclass(frozen=True)
class Definitions:
    """A checked, consistent set of definitions, each kind keyed by name."""

    entities: dict[str, Entity]
    views: dict[str, FeatureView]
    on_demand: dict[str, OnDemandFeatureView]
    services: dict[str, FeatureService]

    @classmethod
    def of(cls, items: Iterable[Definition]) -> Definitions:
        """Check and index definitions: unique names, known references, no cycles."""
        entities: dict[str, Entity] = {}
        views: dict[str, FeatureView] = {}
        on_demand: dict[str, OnDemandFeatureView] = {}
        services: dict[str, FeatureService] = {}
        for item in items:
            if isinstance(item, FeatureView):
                for entity in item.entities:
                    _put(entities, entity, "entity")
                _put_view(views, on_demand, item)
            elif isinstance(item, OnDemandFeatureView):
                _put_view(views, on_demand, item)
            elif isinstance(item, Entity):
                _put(entities, item, "entity")
            elif isinstance(item, FeatureService):
                _put(services, item, "feature service")
        definitions = cls(entities, views, on_demand, services)
        definitions._check_references()
        return definitions

    def features_of(self, view: str) -> tuple[str, ...]:
        """The feature names of a (batch or on-demand) view, or :class:`NotFound`."""
        if view in self.views:
            return self.views[view].feature_names
        if view in self.on_demand:
            return self.on_demand[view].feature_names
        known = ", ".join(sorted([*self.views, *self.on_demand])) or "none"
        raise NotFound(f"unknown feature view {view!r}", hint=f"views defined: {known}")

    def resolve(self, ref: str) -> tuple[str, str]:
        """Check a ``view:feature`` reference against the definitions."""
        view, feature = parse_feature_ref(ref)
        if feature not in self.features_of(view):
            raise NotFound(
                f"unknown feature {ref!r}",
                hint=f"{view} defines: {', '.join(self.features_of(view))}",
            )
        return view, feature

    def _check_references(self) -> None:
        for service in self.services.values():
            for ref in service.refs:
                self.resolve(ref)
        for view in self.on_demand.values():
            for ref in view.inputs:
                self.resolve(ref)
        self._check_acyclic()

    def _check_acyclic(self) -> None:
        # On-demand views may read other on-demand views; a cycle would never finish.
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = " -> ".join([*path[path.index(name) :], name])
                raise InvalidInput(
                    f"on-demand features depend on each other in a cycle: {cycle}",
                    hint="break the cycle: an on-demand view cannot (indirectly) read itself",
                )
            state[name] = 1
            for ref in self.on_demand[name].inputs:
                upstream = ref.partition(":")[0]
                if upstream in self.on_demand:
                    visit(upstream, [*path, name])
            state[name] = 2

        for name in self.on_demand:
            visit(name, [])


_D = TypeVar("_D", Entity, FeatureView, OnDemandFeatureView, FeatureService)


def _put(index: dict[str, _D], item: _D, kind: str) -> None:
    existing = index.get(item.name)
    if existing is not None and existing != item:
        raise InvalidInput(
            f"two different {kind} definitions are named {item.name!r}",
            hint=f"give each {kind} its own name",
        )
    index[item.name] = item


def _put_view(
    views: dict[str, FeatureView],
    on_demand: dict[str, OnDemandFeatureView],
    item: FeatureView | OnDemandFeatureView,
) -> None:
    other = on_demand if isinstance(item, FeatureView) else views
    if item.name in other:
        raise InvalidInput(
            f"a feature view and an on-demand view are both named {item.name!r}",
            hint="views share one namespace (references are view:feature): rename one",
        )
    if isinstance(item, FeatureView):
        _put(views, item, "feature view")
    else:
        _put(on_demand, item, "feature view")


def load_definitions(path: Path) -> Definitions:
    """Import a ``features.py`` and collect every definition at its top level.

    A file that raises on import is an :class:`InvalidInput` naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFound(
            f"no feature definitions at {path}",
            hint="write a features.py (see docs/features.md) or pass --file PATH",
        )
    module_name = f"_gp_features_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    # Registered while it runs (dataclasses and typing look modules up by name), removed after.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except InvalidInput as error:
        line = _line_in(error, path)
        raise InvalidInput(f"{path}{line}: {error.message}", hint=error.hint) from None
    except SyntaxError as error:
        raise InvalidInput(
            f"{path}:{error.lineno}: syntax error: {error.msg}",
            hint="fix the file, then run the command again",
        ) from None
    except Exception as error:  # any error in user code is reported, not raised
        line = _line_in(error, path)
        raise InvalidInput(
            f"{path}{line}: importing the feature definitions raised "
            f"{type(error).__name__}: {error}",
            hint="fix the file (run it with python to see the whole traceback)",
        ) from None
    finally:
        sys.modules.pop(module_name, None)
    found = [v for v in vars(module).values() if isinstance(v, Definition)]
    return Definitions.of(found)


def _line_in(error: BaseException, path: Path) -> str:
    """``:LINE`` of the deepest frame of ``error``'s traceback that is in ``path``."""
    resolved = str(path.resolve())
    line = ""
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == resolved or Path(frame.filename).resolve() == Path(resolved):
            line = f":{frame.lineno}"
    return line
