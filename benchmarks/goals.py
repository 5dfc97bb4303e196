"""A benchmark goal: a measured value against a bar, met or not, and the table that prints them."""

from __future__ import annotations

__all__ = ["goal", "goals_markdown"]


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
