"""A benchmark goal: a measured value against a bar, met or not; the table that prints them; the report they go in."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["fill_report", "goal", "goals_markdown"]


def goal(name: str, value: float | None, bar: float | None, *, higher_is_better: bool = False) -> dict:
    """One goal row; ``margin`` is how far the value is on the good side of the bar (negative: missed)."""
    if value is None or bar is None:
        return {"goal": name, "value": None, "met": None, "margin": None, "note": "not measured"}
    margin = value - bar if higher_is_better else bar - value
    return {"goal": name, "value": value, "met": margin >= 0, "margin": margin}


def goals_markdown(goals: list[dict]) -> list[str]:
    """The goals as markdown table lines."""
    lines = ["| goal | value | met | margin |", "|---|---|---|---|"]
    for g in goals:
        if g["met"] is None:
            lines.append(f"| {g['goal']} | – | – | {g.get('note', '')} |")
        else:
            lines.append(f"| {g['goal']} | {g['value']:.4f} | {'yes' if g['met'] else 'NO'} | {g['margin']:+.4f} |")
    return lines


def fill_report(path: Path, section: str, markdown: str) -> None:
    """Replace what stands between ``<!-- section:start -->`` and ``<!-- section:end -->`` in ``path`` by ``markdown``.

    The report's prose around the markers stays as written; a file without the markers is an error, not a guess.
    """
    from embedlib.environment import write_atomic

    text = path.read_text()
    start, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if len(pattern.findall(text)) != 1:
        raise ValueError(f"{path} must hold exactly one {start} ... {end} pair to put the {section} tables between.")
    write_atomic(path, pattern.sub(lambda _: f"{start}\n{markdown}\n{end}", text))
