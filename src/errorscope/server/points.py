"""Whole metric columns of a run for the projector's row-metrics space.

``GET /api/runs/{run}/points?x=iou&y=mean_confidence&filter=JSON`` answers, as
``application/octet-stream`` (``X-Points: n``), the ``n`` rows of the run matching the
filter in ascending id order, little-endian:

* ``n`` int64 data row ids (bytes ``0 .. 8n``),
* ``n`` float32 values of metric ``x`` (bytes ``8n .. 12n``),
* ``n`` float32 values of metric ``y`` (bytes ``12n .. 16n``),

NaN where a row has no value of that metric (e.g. no IoU without objects). The columns
come from the run's in-memory row index in one pass: no paging and no sort.

With ``classes=true`` the projector's color codes of the same rows follow
(:mod:`errorscope.core.pointcodes`), so that coloring by class or result needs no
request per class:

* ``n`` int16 dominant ground-truth class codes (bytes ``16n .. 18n``, -1: none),
* ``n`` int16 dominant predicted class codes (bytes ``18n .. 20n``, -1: none),
* ``n`` uint8 result codes (bytes ``20n .. 21n``: 0 none, 1 TP, 2 FP, 3 FN, 4 FP+FN),
* the class names the codes index, a UTF-8 JSON array (bytes ``21n ..`` to the end).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated

import numpy as np
import orjson
from fastapi import FastAPI, Query
from starlette.responses import Response

from errorscope.core.pointcodes import PointCodes
from errorscope.core.query import ROW_METRICS
from errorscope.sdk.workspace import Workspace
from errorscope.server.rows import FILTER_HELP, parse_filter_param

__all__ = ["add_points_routes", "codes_bytes", "points_bytes"]

METRIC_HELP = "A row metric: " + ", ".join(ROW_METRICS) + "."


def points_bytes(ids: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> bytes:
    """The body described in the module docstring."""
    return b"".join(
        (
            np.asarray(ids, "<i8").tobytes(),
            np.asarray(xs, "<f4").tobytes(),
            np.asarray(ys, "<f4").tobytes(),
        )
    )


def codes_bytes(codes: PointCodes) -> bytes:
    """The ``classes=true`` tail described in the module docstring."""
    return b"".join(
        (
            np.asarray(codes.gt, "<i2").tobytes(),
            np.asarray(codes.pred, "<i2").tobytes(),
            np.asarray(codes.result, "u1").tobytes(),
            orjson.dumps(list(codes.classes)),
        )
    )


def add_points_routes(
    app: FastAPI, workspace: Callable[[], AbstractContextManager[Workspace]]
) -> None:
    """Register the route; ``workspace()`` lends the open workspace."""

    @app.get(
        "/api/runs/{run}/points",
        tags=["runs"],
        response_class=Response,
        responses={200: {"content": {"application/octet-stream": {}}}},
    )
    def get_points(
        run: str,
        x: Annotated[str, Query(description=METRIC_HELP)] = "iou",
        y: Annotated[str, Query(description=METRIC_HELP)] = "mean_confidence",
        filter: Annotated[str | None, Query(description=FILTER_HELP)] = None,
        classes: Annotated[
            bool,
            Query(
                description="Also each row's dominant ground-truth and predicted class "
                "codes and its result code, and the class names the codes index."
            ),
        ] = False,
    ) -> Response:
        """The matching rows' ids (int64) then metric ``x`` then metric ``y`` (float32,
        NaN for no value), little-endian, in ascending id order. With ``classes=true``
        then ``n`` int16 dominant ground-truth class codes, ``n`` int16 dominant predicted
        class codes (-1: none), ``n`` uint8 result codes (0 none, 1 TP, 2 FP, 3 FN,
        4 FP+FN) and the class names the codes index, a JSON array, to the end."""
        where = parse_filter_param(filter)
        with workspace() as ws:
            ids, (xs, ys) = ws.row_metric_columns(run, [x, y], where)
            tail = codes_bytes(ws.row_point_codes(run, ids)) if classes else b""
        return Response(
            points_bytes(ids, xs, ys) + tail,
            media_type="application/octet-stream",
            headers={"X-Points": str(len(ids))},
        )
