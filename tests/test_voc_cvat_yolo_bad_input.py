"""VOC, CVAT and YOLO importers on crafted copies of voc100 files: errors and edge cases.

Every bad-input test checks that the error names the file, the line and the field, and
that the workspace (which already holds voc100's ground truth) is exactly as before.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import errorscope as es
from tests.conftest import shared_path, snapshot

pytestmark = pytest.mark.shared_data

REAL_IMAGES = 3


def voc100(*parts: str) -> Path:
    return shared_path("voc100", *parts)


@pytest.fixture
def loaded(ws: es.Workspace) -> es.Workspace:
    """A workspace holding voc100's ground truth (from its COCO file)."""
    ws.import_coco(voc100("gts", "coco_format_v1", "instances_default.json"))
    return ws


def copy_files(src: Path, suffix: str, dest: Path, n: int = REAL_IMAGES) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for p in sorted(src.glob(f"*{suffix}"))[:n]:
        shutil.copy(p, dest / p.name)
        out.append(dest / p.name)
    return out


def edit(path: Path, old: str, new: str) -> int:
    """Replace the first ``old`` in ``path`` by ``new``; return the 1-based line edited."""
    text = path.read_text()
    assert old in text, old
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1))
    return line


def line_of(path: Path, needle: str) -> int:
    text = path.read_text()
    return text[: text.index(needle)].count("\n") + 1


def expect_error(
    ws: es.Workspace, do: Callable[[], object], path: Path, line: int | None, field: str | None
) -> es.InvalidInputError:
    before = snapshot(ws)
    with pytest.raises(es.InvalidInputError) as info:
        do()
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), line, field), str(err)
    assert str(path) in str(err)
    if line is not None:
        assert f"{path}:{line}" in str(err)
    if field is not None:
        assert repr(field) in str(err)
    assert snapshot(ws) == before
    return err


# -- VOC ------------------------------------------------------------------------------


def voc_copy(tmp_path: Path) -> list[Path]:
    return copy_files(voc100("gts", "pascalvoc_format"), ".xml", tmp_path / "voc")


@pytest.mark.parametrize(
    ("old", "new", "at", "field", "message"),
    [
        ("</name>", "</nam>", "</nam>", "name", "malformed XML: mismatched tag"),
        ("<xmin>174</xmin>", "<xmin>400</xmin>", "<bndbox>", "bndbox", "negative size"),
        ("<ymin>101</ymin>", "<ymin>1O1</ymin>", "<ymin>", "ymin", "expected a number"),
        ("<xmax>349</xmax>", "<xmax>nan</xmax>", "<xmax>", "xmax", "expected a number"),
        ("<name>person</name>", "", "<object>", "name", "<object> has no <name>"),
        (
            "<difficult>0</difficult>",
            "<difficult>maybe</difficult>",
            "<difficult>",
            "difficult",
            "",
        ),
        ("<width>486</width>", "<width>-4</width>", "<width>", "width", "whole number"),
        ("<filename>2007_000027.jpg</filename>", "", "<annotation>", "filename", "no <filename>"),
    ],
)
def test_voc_bad_input(
    loaded: es.Workspace, tmp_path: Path, old: str, new: str, at: str, field: str, message: str
) -> None:
    files = voc_copy(tmp_path)
    bad = files[0]  # 2007_000027.xml: one person, xmin 174 ymin 101 xmax 349 ymax 351
    edit(bad, old, new)
    err = expect_error(
        loaded, lambda: loaded.import_voc(tmp_path / "voc"), bad, line_of(bad, at), field
    )
    assert message in err.message


def test_voc_image_described_twice(loaded: es.Workspace, tmp_path: Path) -> None:
    files = voc_copy(tmp_path)
    twin = tmp_path / "voc" / "zz_copy.xml"
    shutil.copy(files[0], twin)
    err = expect_error(
        loaded,
        lambda: loaded.import_voc(tmp_path / "voc"),
        twin,
        line_of(twin, "<filename>"),
        "filename",
    )
    assert files[0].name in err.message


def test_voc_image_without_objects_and_size(ws: es.Workspace, tmp_path: Path) -> None:
    (tmp_path / "voc").mkdir()
    (tmp_path / "voc" / "a.xml").write_text("<annotation><filename>a.jpg</filename></annotation>\n")
    report = ws.import_voc(tmp_path / "voc")
    assert (report.data_rows_created, report.labels, report.classes_created) == (1, 0, 0)
    rows = ws.data_rows().to_pylist()
    assert (rows[0]["global_key"], rows[0]["uri"], rows[0]["width"]) == ("a.jpg", "a.jpg", None)


def test_voc_empty_directory(ws: es.Workspace, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    expect_error(ws, lambda: ws.import_voc(tmp_path / "empty"), tmp_path / "empty", None, None)


# -- CVAT -----------------------------------------------------------------------------


def cvat_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "annotations.xml"
    shutil.copy(voc100("gts", "cvat_format", "annotations.xml"), dest)
    return dest


FIRST_BOX = 'xtl="58.00" ytl="158.00" xbr="72.00" ybr="191.00"'  # the first <box>, a bottle


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("</box>", "</bx>", "box", "malformed XML: mismatched tag"),
        (FIRST_BOX, FIRST_BOX.replace('xbr="72.00"', 'xbr="50.00"'), "xbr", "negative size"),
        (FIRST_BOX, FIRST_BOX.replace('ytl="158.00"', 'ytl="abc"'), "ytl", "expected a number"),
        (FIRST_BOX, FIRST_BOX.replace('xtl="58.00" ', ""), "xtl", "no 'xtl' attribute"),
        ('label="bottle"', 'label="bottel"', "label", "not among the task's labels"),
        ('width="500" height="434"', 'width="x" height="434"', "width", "expected a number"),
        ("<box ", '<ellipse cx="1" cy="1" rx="1" ry="1"/><box ', "ellipse", "not supported"),
    ],
)
def test_cvat_bad_input(
    loaded: es.Workspace, tmp_path: Path, old: str, new: str, field: str, message: str
) -> None:
    path = cvat_copy(tmp_path)
    line = edit(path, old, new)
    err = expect_error(loaded, lambda: loaded.import_cvat(path), path, line, field)
    assert message in err.message


CVAT_SHAPES = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><labels>
    <label><name>road</name><attributes></attributes></label>
    <label><name>car</name><attributes>
      <attribute><name>difficult</name><input_type>checkbox</input_type></attribute>
    </attributes></label>
    <label><name>lane</name></label>
    <label><name>keypoint</name></label>
    <label><name>unused</name><type>polygon</type></label>
  </labels></task></meta>
  <image id="0" name="2007_000027.jpg" width="486" height="500">
    <polygon label="road" occluded="0" points="10.5,20.0;110.0,20.0;60.0,90.25" z_order="0">
    </polygon>
    <box label="car" occluded="1" xtl="1" ytl="2" xbr="30" ybr="40">
      <attribute name="difficult">true</attribute>
    </box>
    <polyline label="lane" points="0,0;5,5;9,1"/>
    <points label="keypoint" points="3,4;7,8"/>
    <box label="road" xtl="1" ytl="1" xbr="2" ybr="2"/>
  </image>
  <image id="1" name="2007_000032.jpg" width="500" height="281"/>
</annotations>
"""


def test_cvat_shapes_attributes_and_classes(ws: es.Workspace, tmp_path: Path) -> None:
    path = tmp_path / "shapes.xml"
    path.write_text(CVAT_SHAPES)
    report = ws.import_cvat(path, images_dir=tmp_path / "img")
    # one polygon, one box, one polyline, two points (one annotation per point), one box
    assert (report.data_rows_created, report.labels) == (2, 6)
    kinds = {c.name: c.kind for c in ws.classes()}
    assert kinds == {
        "road": "polygon",  # the first shape drawn with it; its later box shares the class
        "car": "bbox",
        "lane": "polyline",
        "keypoint": "point",
        "unused": "polygon",  # declared though unused, kind from the label's <type>
    }
    labels = ws.labels().to_pylist()
    by_kind: dict[str, list[dict[str, object]]] = {}
    for rec in labels:
        by_kind.setdefault(str(rec["kind"]), []).append(rec)
    (poly,) = by_kind["polygon"]
    assert poly["coords"] == [[10.5, 20.0, 110.0, 20.0, 60.0, 90.25]]
    assert (poly["x1"], poly["y1"], poly["x2"], poly["y2"]) == (10.5, 20.0, 110.0, 90.25)
    car = next(r for r in by_kind["bbox"] if r["class_name"] == "car")
    assert car["difficult"] is True
    assert (car["x1"], car["y1"], car["x2"], car["y2"]) == (1.0, 2.0, 30.0, 40.0)
    (line,) = by_kind["polyline"]
    assert line["coords"] == [[0.0, 0.0, 5.0, 5.0, 9.0, 1.0]]
    assert sorted(map(str, (p["coords"] for p in by_kind["point"]))) == [
        "[[3.0, 4.0]]",
        "[[7.0, 8.0]]",
    ]
    rows = ws.data_rows().to_pylist()
    assert [r["uri"] for r in rows] == [str(tmp_path / "img" / r["global_key"]) for r in rows]


def test_cvat_shape_errors_name_their_line(ws: es.Workspace, tmp_path: Path) -> None:
    path = tmp_path / "shapes.xml"
    path.write_text(CVAT_SHAPES.replace("60.0,90.25", "60.0;90.25"))
    err = expect_error(ws, lambda: ws.import_cvat(path), path, line_of(path, "<polygon"), "points")
    assert "'60.0'" in err.message
    path.write_text(CVAT_SHAPES.replace(">true<", ">perhaps<"))
    expect_error(ws, lambda: ws.import_cvat(path), path, line_of(path, "perhaps"), "difficult")
    path.write_text(CVAT_SHAPES.replace('points="0,0;5,5;9,1"', 'points="0,0"'))
    expect_error(ws, lambda: ws.import_cvat(path), path, line_of(path, "<polyline"), "points")


# -- YOLO -----------------------------------------------------------------------------


def yolo_copy(tmp_path: Path) -> list[Path]:
    return copy_files(voc100("gts", "yolo_format", "obj_train_data"), ".txt", tmp_path / "yolo")


def import_yolo_gt(ws: es.Workspace, directory: Path) -> object:
    return ws.import_yolo(
        directory, names=voc100("gts", "yolo_format", "obj.names"), images_dir=voc100("images")
    )


@pytest.mark.parametrize(
    ("bad_line", "field", "message"),
    [
        ("21 0.5 0.5 0.1 0.1", "class", "unknown class index 21 (names file has 20 classes)"),
        ("-1 0.5 0.5 0.1 0.1", "class", "unknown class index -1 (names file has 20 classes)"),
        ("2.5 0.5 0.5 0.1 0.1", "class", "class index must be a whole number"),
        ("0 0.5 0.5 0.1", "columns", "expected 5 columns (class cx cy w h), got 4"),
        ("0 0.5 0.5 0.1 0.1 0.9", "columns", "expected 5 columns"),
        ("0 0.5 abc 0.1 0.1", "cy", "expected a number, got 'abc'"),
        ("0 0.5 0.5 0.1 inf", "h", "expected a number, got 'inf'"),
        ("0 0.5 0.5 -0.1 0.1", "w", "negative box w"),
    ],
)
def test_yolo_bad_ground_truth(
    loaded: es.Workspace, tmp_path: Path, bad_line: str, field: str, message: str
) -> None:
    files = yolo_copy(tmp_path)
    bad = files[1]
    n = len(bad.read_text().splitlines())
    with bad.open("a") as f:
        f.write("\n" + bad_line + "\n")  # after a blank line: line numbers count it
    err = expect_error(loaded, lambda: import_yolo_gt(loaded, tmp_path / "yolo"), bad, n + 2, field)
    assert message in err.message


def test_yolo_first_bad_line_wins(loaded: es.Workspace, tmp_path: Path) -> None:
    files = yolo_copy(tmp_path)
    files[2].write_text("0 0.5 0.5 0.1\n")  # wrong column count in the later file
    with files[1].open("a") as f:
        f.write("0 0.5 0.5 0.1 x\n")  # non-number in the earlier file
    n = len(files[1].read_text().splitlines())
    expect_error(loaded, lambda: import_yolo_gt(loaded, tmp_path / "yolo"), files[1], n, "h")


@pytest.mark.parametrize(
    ("bad_line", "field", "message"),
    [
        ("21 0.9 10 10 5 5", "class", "unknown class index 21 (names file has 20 classes)"),
        ("3 0.9 10 10 5", "columns", "expected 6 columns (class score left top width height)"),
        ("3 high 10 10 5 5", "score", "expected a number, got 'high'"),
        ("3 1.5 10 10 5 5", "score", "score must be in [0, 1], got 1.5"),
        ("3 0.5 10 10 5 -5", "height", "negative box height -5"),
    ],
)
def test_yolo_bad_detections(
    loaded: es.Workspace, tmp_path: Path, bad_line: str, field: str, message: str
) -> None:
    files = copy_files(voc100("dets", "abs_xywh"), ".txt", tmp_path / "dets")
    bad = files[0]
    with bad.open("a") as f:
        f.write(bad_line + "\n")
    n = len(bad.read_text().splitlines())
    err = expect_error(
        loaded,
        lambda: loaded.import_yolo(
            tmp_path / "dets", names=voc100("voc.names"), layout="ltwh", run="dets"
        ),
        bad,
        n,
        field,
    )
    assert message in err.message


def test_yolo_ground_truth_needs_images(loaded: es.Workspace, tmp_path: Path) -> None:
    yolo_copy(tmp_path)
    err = expect_error(
        loaded,
        lambda: loaded.import_yolo(
            tmp_path / "yolo", names=voc100("gts", "yolo_format", "obj.names")
        ),
        tmp_path / "yolo",
        None,
        None,
    )
    assert "--images" in err.message


def test_yolo_txt_without_image(loaded: es.Workspace, tmp_path: Path) -> None:
    yolo_copy(tmp_path)
    orphan = tmp_path / "yolo" / "no_such_image.txt"
    orphan.write_text("0 0.5 0.5 0.1 0.1\n")
    err = expect_error(
        loaded, lambda: import_yolo_gt(loaded, tmp_path / "yolo"), orphan, None, None
    )
    assert "no image no_such_image." in err.message


def test_yolo_empty_file_names_file_inside_and_optional_scores(
    ws: es.Workspace, tmp_path: Path
) -> None:
    files = yolo_copy(tmp_path)
    files[0].write_text("")  # an image without objects
    names = tmp_path / "yolo" / "classes.txt"  # labelImg keeps the names file beside the txts
    shutil.copy(voc100("gts", "yolo_format", "obj.names"), names)
    report = ws.import_yolo(tmp_path / "yolo", names=names, images_dir=voc100("images"))
    expected = sum(len(p.read_text().split("\n")) - 1 for p in files[1:])
    assert (report.data_rows_created, report.labels, report.classes_created) == (3, expected, 20)
    keys = set(ws.data_rows().column("global_key").to_pylist())
    assert keys == {p.stem + ".jpg" for p in files}

    # normalised predictions, a score on some lines only (missing = confidence 1.0)
    preds = tmp_path / "preds"
    preds.mkdir()
    (preds / files[1].name).write_text("0 0.5 0.5 0.2 0.4 0.25\n1 0.5 0.5 0.2 0.4\n")
    ws.import_yolo(preds, names=names, images_dir=voc100("images"), run="r")
    got = sorted(ws.predictions("r").to_pylist(), key=lambda r: r["confidence"])
    width, height = next(
        (r["width"], r["height"])
        for r in ws.data_rows().to_pylist()
        if r["global_key"] == files[1].stem + ".jpg"
    )
    assert [r["confidence"] for r in got] == [0.25, 1.0]
    obj_names = voc100("gts", "yolo_format", "obj.names").read_text().split()
    assert [r["class_name"] for r in got] == obj_names[:2]
    assert got[0]["x1"] == pytest.approx(0.4 * width)
    assert got[0]["y2"] == pytest.approx(0.7 * height)
