"""The report as data: sections of paragraphs, notes, tables and figures.

Tables and figures are built once into these objects; :mod:`chatkit_pg.reports.render` turns
the same objects into Markdown and HTML, and :mod:`chatkit_pg.reports.compare` adds baseline
columns to tables, so no number is formatted or computed in two places.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Better = Literal["higher", "lower"]
Format = Literal["text", "int", "float", "ms", "ops", "ratio", "bytes", "bool", "change"]


@dataclass(frozen=True)
class Change:
    """A cell of a baseline comparison: the signed change and whether it is a regression."""

    fraction: float | None  # (current - baseline) / baseline; inf when the baseline was 0
    regressed: bool = False


@dataclass(frozen=True)
class Column:
    """A table column.

    Attributes:
        name: header text, with its unit.
        fmt: how cells are formatted (see :func:`chatkit_pg.reports.render.format_value`).
        key: part of the row's identity, used to match rows against a baseline.
        better: direction of goodness; set on measured numbers, which then get baseline
            columns and regression flags.
    """

    name: str
    fmt: Format = "text"
    key: bool = False
    better: Better | None = None


@dataclass
class Table:
    """Rows of values under columns; ``id`` matches it with the baseline's same table."""

    id: str
    title: str
    columns: list[Column]
    rows: list[list[Any]]
    caption: str = ""
    row_better: dict[int, Better] = field(default_factory=dict)  # per-row direction override
    foldable: bool = True  # a long table may fold away in HTML (not the conditions)

    def key_of(self, row: list[Any]) -> tuple[Any, ...]:
        return tuple(v for c, v in zip(self.columns, row, strict=True) if c.key)


@dataclass(frozen=True)
class Paragraph:
    """Prose; ``**bold**`` and ``code`` spans are rendered in both formats."""

    text: str


@dataclass(frozen=True)
class Note:
    """Something the reader should know is absent or odd (a skipped part, a warning)."""

    text: str


@dataclass(frozen=True)
class Figure:
    """A PNG written under ``figures/``; ``path`` is relative to the results folder."""

    path: Path
    title: str
    caption: str = ""


Block = Paragraph | Note | Table | Figure


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block | None) -> None:
        self.blocks.extend(b for b in blocks if b is not None)


@dataclass(frozen=True)
class Regression:
    """A measured value that got worse than the baseline by more than the threshold."""

    table: str
    row: str
    column: str
    baseline: float
    current: float
    change: float  # signed fraction; inf when the baseline was zero


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]
    regressions: list[Regression] = field(default_factory=list)
    baseline: str | None = None
    threshold: float = 0.10


def missing_note(missing: list[str], *parts: str) -> Note | None:
    """A note naming which of ``parts`` the results folder lacks (``missing``); None if none."""
    absent = [p for p in parts if p in missing]
    if not absent:
        return None
    return Note(f"Not in this results folder: {', '.join(absent)}; that part is skipped.")
