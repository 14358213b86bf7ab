"""Render a :class:`~chatkit_pg.reports.document.Document` as Markdown and as self-contained HTML.

The HTML embeds every figure as a base64 ``data:`` URI and its CSS inline, so the one file
opens offline, mailed or archived, with nothing else beside it.
"""

from __future__ import annotations

import base64
import html
import math
import re
from pathlib import Path
from typing import Any, Final

from .document import (
    Change,
    Column,
    Document,
    Figure,
    Note,
    Paragraph,
    Regression,
    Section,
    Table,
)
from .mask import redact

MISSING: Final = "n/a"
COLLAPSE_ROWS: Final = 16


def format_value(value: Any, fmt: str) -> str:
    """One cell as text; every string is redacted on its way out."""
    if isinstance(value, Change):
        return _format_change(value)
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool) or fmt == "bool":
        return "yes" if value else "no"
    if fmt == "text" and isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, int | float) and not math.isfinite(value):
        return "∞" if value > 0 else "-∞"
    try:
        if fmt == "int":
            return f"{value:,.0f}"
        if fmt == "ops":
            return f"{value:,.0f}"
        if fmt == "ms":
            digits = 3 if value < 1 else 2 if value < 10 else 1 if value < 100 else 0
            return f"{value:,.{digits}f}"
        if fmt == "ratio":
            return f"{value:,.2f}x"
        if fmt == "float":
            return f"{value:,.1f}"
        if fmt == "bytes":
            return _bytes(float(value))
    except (TypeError, ValueError):
        pass
    return redact(str(value))


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"


def _format_change(change: Change) -> str:
    if change.fraction is None:
        return MISSING
    if math.isinf(change.fraction):
        text = "new" if change.fraction > 0 else "gone"
    else:
        text = f"{change.fraction:+.1%}"
    return f"{text} REGRESSION" if change.regressed else text


def regression_lines(regressions: list[Regression]) -> list[str]:
    return [
        f"{r.table} · {r.row} · {r.column}: {r.baseline:,.4g} → {r.current:,.4g} "
        f"({_format_change(Change(r.change))})"
        for r in regressions
    ]


# ---- Markdown ---------------------------------------------------------------------------


def to_markdown(doc: Document) -> str:
    out = [f"# {doc.title}", "", redact(doc.subtitle), ""]
    if doc.baseline is not None:
        out += _md_regressions(doc)
    out += ["## Contents", ""]
    out += [f"{n}. [{s.title}](#{s.id})" for n, s in enumerate(doc.sections, 1)] + [""]
    for section in doc.sections:
        out += [f'<a id="{section.id}"></a>', "", f"## {section.title}", ""]
        for block in section.blocks:
            out += [*_md_block(block), ""]
    return "\n".join(out).rstrip() + "\n"


def _md_regressions(doc: Document) -> list[str]:
    base = redact(doc.baseline or "")
    if not doc.regressions:
        return [f"**No regressions** beyond {doc.threshold:.0%} against baseline `{base}`.", ""]
    lines = [
        f"**{len(doc.regressions)} regression(s)** beyond {doc.threshold:.0%} against "
        f"baseline `{base}`:",
        "",
    ]
    return lines + [f"- {line}" for line in regression_lines(doc.regressions)] + [""]


def _md_block(block: Any) -> list[str]:
    if isinstance(block, Paragraph):
        return [redact(block.text)]
    if isinstance(block, Note):
        return [f"> **Note:** {redact(block.text)}"]
    if isinstance(block, Figure):
        lines = [f"![{block.title}]({block.path.as_posix()})"]
        return lines + ([f"*{block.caption}*"] if block.caption else [])
    if isinstance(block, Table):
        return _md_table(block)
    raise TypeError(f"unknown block {block!r}")


def _md_cell(value: Any, column: Column) -> str:
    return format_value(value, column.fmt).replace("|", "\\|").replace("\n", " ")


def _md_table(table: Table) -> list[str]:
    lines = [f"**{table.title}**", ""]
    lines.append("| " + " | ".join(c.name for c in table.columns) + " |")
    lines.append(
        "|" + "|".join("---" if c.fmt in ("text", "bool") else "---:" for c in table.columns) + "|"
    )
    for row in table.rows:
        cells = (_md_cell(v, c) for v, c in zip(row, table.columns, strict=True))
        lines.append("| " + " | ".join(cells) + " |")
    if table.caption:
        lines += ["", f"*{redact(table.caption)}*"]
    return lines


# ---- HTML -------------------------------------------------------------------------------

CSS: Final = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;
 margin:0;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:24px 32px 64px;background:#fff}
h1{margin:.2em 0;font-size:28px} h2{margin-top:2em;border-bottom:2px solid #e3e6ea;
 padding-bottom:4px} .subtitle{color:#5a6472}
nav ol{columns:2;margin:.5em 0 1em} nav a{color:#2457a6;text-decoration:none}
table{border-collapse:collapse;margin:.6em 0 1.4em;font-size:13px;width:100%}
th,td{border:1px solid #dde1e6;padding:4px 8px;vertical-align:top}
th{background:#eef1f5;text-align:left;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr:nth-child(even) td{background:#fafbfc}
caption{caption-side:top;text-align:left;font-weight:600;padding:4px 0;font-size:14px}
.tcap{color:#5a6472;font-size:12.5px;margin-top:-1em}
.yes{color:#1a7f37;font-weight:600} .no{color:#b42318;font-weight:600}
.reg{color:#fff;background:#b42318 !important;font-weight:700}
.better{color:#1a7f37}
figure{margin:1em 0 1.6em} figure img{max-width:100%;border:1px solid #e3e6ea}
figcaption{color:#5a6472;font-size:13px}
.note{background:#fff8e1;border-left:4px solid #f0b429;padding:6px 12px;margin:.8em 0}
.alert{background:#fdecea;border:2px solid #b42318;padding:8px 16px;margin:1em 0}
.ok{background:#e9f7ef;border:2px solid #1a7f37;padding:8px 16px;margin:1em 0}
.verdict table td:nth-child(2){font-weight:700;font-size:15px;color:#2457a6}
.scroll{overflow-x:auto;margin:.6em 0 1.4em} .scroll table{margin:0}
details{margin:.6em 0 1.4em} summary{cursor:pointer;font-weight:600;color:#2457a6}
code{background:#eef1f5;padding:0 3px;border-radius:3px}
"""


def _inline(text: str) -> str:
    escaped = html.escape(redact(text))
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escaped)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", escaped)


def to_html(doc: Document, folder: Path) -> str:
    """The whole report as one HTML page; figures are read from ``folder`` and inlined."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(doc.title)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{html.escape(doc.title)}</h1>",
        f'<p class="subtitle">{_inline(doc.subtitle)}</p>',
    ]
    if doc.baseline is not None:
        parts.append(_html_regressions(doc))
    parts.append("<nav><ol>")
    parts += [f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in doc.sections]
    parts.append("</ol></nav>")
    for section in doc.sections:
        parts.append(_html_section(section, folder))
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _html_regressions(doc: Document) -> str:
    base = html.escape(redact(doc.baseline or ""))
    if not doc.regressions:
        return (
            f'<div class="ok"><b>No regressions</b> beyond {doc.threshold:.0%} against baseline '
            f"<code>{base}</code>.</div>"
        )
    items = "".join(f"<li>{html.escape(line)}</li>" for line in regression_lines(doc.regressions))
    return (
        f'<div class="alert"><b>{len(doc.regressions)} regression(s)</b> beyond '
        f"{doc.threshold:.0%} against baseline <code>{base}</code>:<ul>{items}</ul></div>"
    )


def _html_section(section: Section, folder: Path) -> str:
    parts = [f'<section id="{section.id}" class="{section.id}">', f"<h2>{section.title}</h2>"]
    for block in section.blocks:
        if isinstance(block, Paragraph):
            parts.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Note):
            parts.append(f'<div class="note"><b>Note:</b> {_inline(block.text)}</div>')
        elif isinstance(block, Figure):
            parts.append(_html_figure(block, folder))
        elif isinstance(block, Table):
            parts.append(_html_table(block))
    parts.append("</section>")
    return "\n".join(parts)


def _html_figure(figure: Figure, folder: Path) -> str:
    data = base64.b64encode((folder / figure.path).read_bytes()).decode("ascii")
    caption = html.escape(figure.title) + (
        f" — {html.escape(figure.caption)}" if figure.caption else ""
    )
    return (
        f'<figure><img alt="{html.escape(figure.title)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _html_cell(value: Any, column: Column) -> str:
    text = html.escape(format_value(value, column.fmt))
    classes = []
    if column.fmt not in ("text", "bool"):
        classes.append("num")
    if isinstance(value, bool):
        classes.append("yes" if value else "no")
    if isinstance(value, Change) and value.regressed:
        classes.append("reg")
    cls = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td{cls}>{text}</td>"


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c.name)}</th>" for c in table.columns)
    body = "".join(
        "<tr>"
        + "".join(_html_cell(v, c) for v, c in zip(row, table.columns, strict=True))
        + "</tr>"
        for row in table.rows
    )
    caption = f'<p class="tcap">{_inline(table.caption)}</p>' if table.caption else ""
    markup = (
        f'<div class="scroll"><table><caption>{html.escape(table.title)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{caption}"
    )
    if len(table.rows) <= COLLAPSE_ROWS or not table.foldable:
        return markup
    # Long detail tables fold away so the figures and verdict stay in view.
    return (
        f"<details><summary>{html.escape(table.title)} ({len(table.rows)} rows)</summary>"
        f"{markup}</details>"
    )
