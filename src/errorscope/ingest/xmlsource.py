"""XML with line numbers, on expat: a small element tree, and expat errors as input errors.

``xml.etree.ElementTree`` forgets where an element was; errors of the XML importers
(VOC, CVAT) must name the line, so they read through expat directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

from errorscope.errors import InvalidInputError

__all__ = ["Node", "malformed", "read_tree", "run_expat"]


@dataclass
class Node:
    """One element: its tag, attributes, stripped text, children and 1-based line."""

    tag: str
    attrib: dict[str, str]
    line: int
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def find(self, tag: str) -> Node | None:
        """The first child called ``tag``."""
        for child in self.children:
            if child.tag == tag:
                return child
        return None

    def iter(self, tag: str) -> Iterator[Node]:
        """The children called ``tag``, in order."""
        return (child for child in self.children if child.tag == tag)


def malformed(exc: expat.ExpatError, path: Path, open_tags: list[str]) -> InvalidInputError:
    """An expat error as an input error: its line, and the innermost open element as field."""
    return InvalidInputError(
        f"malformed XML: {expat.ErrorString(exc.code)} (column {exc.offset + 1})",
        path=path,
        line=exc.lineno,
        field=open_tags[-1] if open_tags else None,
    )


def run_expat(parser: Any, path: Path, open_tags: list[str]) -> None:
    """Stream ``path`` through ``parser`` (an expat parser with its handlers set).

    ``open_tags`` is the handlers' stack of open element names, read when the XML turns
    out malformed to name the element being parsed.
    """
    try:
        with path.open("rb") as stream:
            parser.ParseFile(stream)
    except FileNotFoundError:
        raise InvalidInputError("file not found", path=path) from None
    except IsADirectoryError:
        raise InvalidInputError("is a directory, expected an XML file", path=path) from None
    except expat.ExpatError as exc:
        raise malformed(exc, path, open_tags) from None
    except OSError as exc:
        raise InvalidInputError(exc.strerror or str(exc), path=path) from None


def read_tree(path: Path) -> Node:
    """Parse a (small) XML file into :class:`Node` s that know their line."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    stack: list[Node] = []
    tags: list[str] = []
    texts: list[list[str]] = []
    root: list[Node] = []

    def start(tag: str, attrib: dict[str, str]) -> None:
        node = Node(tag, attrib, parser.CurrentLineNumber)
        (stack[-1].children if stack else root).append(node)
        stack.append(node)
        tags.append(tag)
        texts.append([])

    def end(tag: str) -> None:
        tags.pop()
        stack.pop().text = "".join(texts.pop()).strip()

    def chars(data: str) -> None:
        if texts:
            texts[-1].append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    run_expat(parser, path, tags)
    return root[0]
