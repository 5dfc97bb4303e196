"""Argument checks shared by the library: one message for each kind of bad value, naming it and what it got."""

from __future__ import annotations

import numbers

__all__ = ["check_count", "check_non_negative", "check_positive", "check_rate"]


def check_count(name: str, value: object, *, at_least: int = 1) -> int:
    """``value`` if it is a whole number (not a bool) of at least ``at_least``; else a ValueError saying so."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < at_least:
        what = {0: "zero or a positive integer", 1: "a positive integer"}.get(
            at_least, f"an integer of at least {at_least}"
        )
        raise ValueError(f"`{name}` must be {what}. Received: {name}={value!r} (of type {type(value).__name__}).")
    return int(value)


def _number(name: str, value: object, what: str, holds) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not holds(value):
        raise ValueError(f"`{name}` must be {what}. Received: {name}={value!r}.")
    return float(value)


def check_positive(name: str, value: object) -> float:
    """``value`` as a float if it is a number above 0 (NaN is not); else a ValueError saying so."""
    return _number(name, value, "a positive number", lambda v: v > 0)


def check_non_negative(name: str, value: object) -> float:
    """``value`` as a float if it is a number of at least 0 (NaN is not); else a ValueError saying so."""
    return _number(name, value, "zero or a positive number", lambda v: v >= 0)


def check_rate(name: str, value: object) -> float:
    """``value`` as a float if it is a number in [0, 1), such as a dropout rate; else a ValueError saying so."""
    return _number(name, value, "in [0, 1)", lambda v: 0 <= v < 1)
