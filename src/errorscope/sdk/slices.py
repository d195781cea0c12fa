"""Slices: saved, named filters (dynamic: evaluated at query time, so rows added after a
slice was saved are in it when they match) and the ready-made slices of every run
(:data:`~errorscope.core.query.READY_MADE`). A query's
:class:`~errorscope.core.query.SliceMember` is replaced by its slice's filter."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from errorscope.core.query import (
    READY_MADE,
    And,
    ClassPresent,
    Confusion,
    CustomMetric,
    Dataset,
    Filter,
    Ids,
    Metadata,
    Not,
    ObjectMatch,
    Or,
    RowMetric,
    Similar,
    SliceMember,
    Split,
    TextContains,
    expand_slices,
)
from errorscope.core.queryparse import filter_to_json, parse_filter
from errorscope.errors import ConflictError, InvalidQueryError, NotFoundError
from errorscope.sdk.spaces import resolve_similar
from errorscope.store import catalog
from errorscope.store import slices as store
from errorscope.store.database import Database

__all__ = ["FILTERS", "Slice", "SliceMixin", "as_filter", "resolve_slices"]

FILTERS = (
    And,
    Or,
    Not,
    Split,
    ClassPresent,
    RowMetric,
    Metadata,
    TextContains,
    Ids,
    SliceMember,
    Confusion,
    Similar,
    Dataset,
    CustomMetric,
    ObjectMatch,
)


@dataclass(frozen=True)
class Slice:
    name: str
    description: str
    filter: Filter
    run: str | None = None
    ready_made: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "filter": filter_to_json(self.filter),
            "run": self.run,
            "ready_made": self.ready_made,
        }


def as_filter(value: Filter | Mapping[str, Any]) -> Filter:
    """A filter object, or one parsed from its JSON form."""
    if isinstance(value, FILTERS):
        return value
    return parse_filter(dict(value) if isinstance(value, Mapping) else value)


def _stored(row: store.StoredSlice) -> Slice:
    name, description, text, run = row
    return Slice(name, description, parse_filter(json.loads(text)), run)


def resolve_slices(db: Database, f: Filter, *, extra: Mapping[str, Filter] | None = None) -> Filter:
    """``f`` with its slice references replaced by the slices' filters (``extra`` takes
    precedence over the stored slices) and its similarity filters by the rows they find
    (:func:`~errorscope.sdk.spaces.resolve_similar`)."""

    def lookup(name: str) -> Filter | None:
        if extra is not None and name in extra:
            return extra[name]
        row = store.get_slice(db, name)
        return None if row is None else _stored(row).filter

    return resolve_similar(db, expand_slices(f, lookup))


class SliceMixin:
    """The slice methods of :class:`~errorscope.sdk.workspace.Workspace`."""

    db: Database  # set by Workspace.__init__

    def save_slice(
        self,
        name: str,
        filter: Filter | Mapping[str, Any],
        *,
        description: str = "",
        run: str | None = None,
    ) -> Slice:
        """Save ``filter`` as the slice ``name`` (unique; the ready-made names are taken:
        :class:`ConflictError`). Slices it refers to must exist and must not refer back
        to it (:class:`InvalidQueryError`); ``run``, if given, must exist."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidQueryError("a slice needs a non-empty name")
        if not isinstance(description, str):
            raise InvalidQueryError("a slice's description must be a string")
        if name in READY_MADE:
            raise ConflictError(f"{name!r} is a ready-made slice; choose another name")
        where = as_filter(filter)
        resolve_slices(self.db, SliceMember(name), extra={name: where})  # unknown, cycles
        if run is not None:
            catalog.get_run(self.db, run)
        text = json.dumps(filter_to_json(where))
        store.insert_slice(self.db, name, description, text, run)
        return Slice(name, description, where, run)

    def slices(self, *, ready_made: bool = False) -> list[Slice]:
        """The saved slices by name (with ``ready_made``, the ready-made ones first)."""
        out = (
            [Slice(n, r.description, r.filter, None, True) for n, r in READY_MADE.items()]
            if ready_made
            else []
        )
        return out + [_stored(row) for row in store.list_slices(self.db)]

    def get_slice(self, name: str) -> Slice:
        """A saved or ready-made slice (:class:`NotFoundError` if there is none)."""
        if name in READY_MADE:
            r = READY_MADE[name]
            return Slice(name, r.description, r.filter, None, True)
        row = store.get_slice(self.db, name)
        if row is None:
            raise NotFoundError(f"no slice named {name!r}")
        return _stored(row)

    def delete_slice(self, name: str) -> None:
        """Delete a saved slice (ready-made slices cannot be deleted)."""
        if name in READY_MADE:
            raise InvalidQueryError(f"{name!r} is a ready-made slice; it cannot be deleted")
        store.delete_slice(self.db, name)
