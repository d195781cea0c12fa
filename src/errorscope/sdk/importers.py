"""``Workspace.import_*``: parse a file with its ``ingest`` module, write it in one go.

Each method imports ground truth when ``run`` is None and a model run's predictions
otherwise (the run is created when missing). Everything a method writes is one
transaction: on any error the workspace is left exactly as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from errorscope.ingest.common import Parsed
from errorscope.sdk.report import ImportReport

__all__ = ["ImportMixin"]


class ImportMixin:
    """The import methods of :class:`~errorscope.sdk.workspace.Workspace`."""

    def ingest(
        self,
        parsed: Parsed,
        *,
        run: str | None = None,
        model: str = "default",
        dataset: str = "default",
        existing_rows: Literal["reuse", "error"] = "reuse",
    ) -> ImportReport:
        raise NotImplementedError  # provided by Workspace

    def import_coco(
        self,
        path: str | Path,
        *,
        run: str | None = None,
        gt: str | Path | None = None,
        images_dir: str | Path | None = None,
        model: str = "default",
        dataset: str = "default",
    ) -> ImportReport:
        """COCO ground truth, or with ``run`` predictions: a full COCO file with ``score``
        (rows by ``file_name``, classes by name) or a results list with ``gt``'s ids."""
        from errorscope.ingest.coco import parse_coco, parse_coco_results

        if run is None:
            parsed = parse_coco(Path(path), images_dir=_opt(images_dir))
        elif gt is not None:
            parsed = parse_coco_results(Path(path), gt=Path(gt))
        else:
            parsed = parse_coco(Path(path), scored=True)
        return self.ingest(parsed, run=run, model=model, dataset=dataset)

    def import_voc(
        self,
        directory: str | Path,
        *,
        images_dir: str | Path | None = None,
        dataset: str = "default",
    ) -> ImportReport:
        """Pascal VOC XML ground truth (one file per image; ``difficult`` kept as a flag)."""
        from errorscope.ingest.voc import parse_voc

        return self.ingest(parse_voc(Path(directory), images_dir=_opt(images_dir)), dataset=dataset)

    def import_cvat(
        self,
        path: str | Path,
        *,
        images_dir: str | Path | None = None,
        dataset: str = "default",
    ) -> ImportReport:
        """CVAT for images 1.1 XML ground truth (boxes, polygons, polylines, points)."""
        from errorscope.ingest.cvat import parse_cvat

        return self.ingest(parse_cvat(Path(path), images_dir=_opt(images_dir)), dataset=dataset)

    def import_yolo(
        self,
        directory: str | Path,
        *,
        names: str | Path,
        images_dir: str | Path | None = None,
        layout: Literal["yolo", "ltwh"] = "yolo",
        run: str | None = None,
        model: str = "default",
        dataset: str = "default",
    ) -> ImportReport:
        """YOLO txt files (one per image) with a class-names file.

        ``layout="yolo"``: ``class cx cy w h [score]`` normalised to [0, 1];
        ``layout="ltwh"``: ``class score left top width height`` in absolute pixels.
        """
        from errorscope.ingest.yolo import parse_yolo

        parsed = parse_yolo(
            Path(directory),
            names=Path(names),
            images_dir=_opt(images_dir),
            layout=layout,
            scored=run is not None,
        )
        return self.ingest(parsed, run=run, model=model, dataset=dataset)

    def import_ndjson(
        self,
        path: str | Path,
        *,
        run: str | None = None,
        model: str = "default",
    ) -> ImportReport:
        """Labelbox-style NDJSON annotations (labels, or predictions with ``run``)."""
        from errorscope.ingest.ndjson import parse_ndjson

        return self.ingest(parse_ndjson(Path(path), scored=run is not None), run=run, model=model)

    def import_data_rows(
        self,
        path: str | Path,
        *,
        media_root: str | Path | None = None,
        dataset: str = "default",
    ) -> ImportReport:
        """Data rows from NDJSON/JSONL (``row_data``, ``global_key``, ``media_type``,
        ``metadata_fields``); a global key that already exists is an error."""
        from errorscope.ingest.datarows import parse_data_rows

        return self.ingest(
            parse_data_rows(Path(path), media_root=_opt(media_root)),
            dataset=dataset,
            existing_rows="error",
        )

    def import_conll(
        self,
        path: str | Path,
        *,
        column: int = -1,
        key_prefix: str | None = None,
        run: str | None = None,
        model: str = "default",
        dataset: str = "default",
    ) -> ImportReport:
        """CoNLL/BIO token file: one text data row per sentence, tags of ``column``
        (1-based; negative counts from the end) become text spans."""
        from errorscope.ingest.conll import parse_conll

        parsed = parse_conll(
            Path(path), column=column, key_prefix=key_prefix, scored=run is not None
        )
        return self.ingest(parsed, run=run, model=model, dataset=dataset)

    def import_jsonl(
        self,
        path: str | Path,
        *,
        run: str | None = None,
        model: str = "default",
        dataset: str = "default",
    ) -> ImportReport:
        """JSONL text classification: ``{"global_key", "text", "label"[, "confidence"]}``."""
        from errorscope.ingest.jsonl import parse_jsonl

        return self.ingest(
            parse_jsonl(Path(path), scored=run is not None), run=run, model=model, dataset=dataset
        )


def _opt(path: str | Path | None) -> Path | None:
    return None if path is None else Path(path)
