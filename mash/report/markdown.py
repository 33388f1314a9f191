"""Markdown that every report writes the same way."""

from collections.abc import Iterable


def table(header: list[str], rows: Iterable[list[str]], text: int = 1) -> list[str]:
    """A Markdown table: the first ``text`` columns left-aligned, figures right."""
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" if i < text else "---:" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out
