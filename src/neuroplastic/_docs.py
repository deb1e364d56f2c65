"""Documentation generated from the code: the parameter table of ``docs/model.md``.

The table is rendered from the registry (:func:`neuroplastic.params.default_parameters`), so the documentation
cannot drift from the values the model runs with. ``python -m neuroplastic._docs`` rewrites the block between
the markers in ``docs/model.md``; ``tests/test_docs.py`` fails when the block is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .params import ParameterSet, default_parameters

BEGIN = "<!-- BEGIN PARAMETER TABLE -->"
END = "<!-- END PARAMETER TABLE -->"
HEADER = ("name", "value", "unit", "range", "source or calibration target")


def _cell(text: object) -> str:
    """One Markdown table cell: single line, pipes escaped."""
    s = " ".join(str(text).split())
    return s.replace("|", "\\|")


def _num(x: float) -> str:
    return format(x, ".10g")


def _origin(p) -> str:
    parts = []
    if p.source:
        parts.append(p.source)
    if p.calibrated:
        parts.append(f"calibrated against {p.calibrated}")
    if p.fit_rows:
        parts.append("fit rows: " + ", ".join(f"`{r}`" for r in p.fit_rows))
    return "; ".join(parts)


def parameter_table_markdown(params: ParameterSet | None = None) -> str:
    """The whole parameter registry as Markdown tables, one per module (the first two parts of each name).

    Modules appear in the order of their first declaration in the registry files, parameters in declaration
    order. Each row gives the name, the value the model runs with (for a parameter moved by the adopted
    calibration set, also its prior: the registry value before calibration), the unit, the plausible range and
    the literature source or, for fitted parameters, the clinical target it was calibrated against.

    Parameters
    ----------
    params : ParameterSet, optional
        The set to render (default: the shipped registry).

    Returns
    -------
    str
        Markdown text ending in a newline; identical input gives identical text.

    Example
    -------
    >>> md = parameter_table_markdown()
    >>> "### `pk.escitalopram`" in md
    True
    >>> row = next(line for line in md.splitlines() if line.startswith("| `pk.escitalopram.half_life`"))
    >>> row.split(" | ")[1:3]
    ['30', 'hour']
    """
    p = params or default_parameters()
    from .params._registry import _load_files
    prior = {k: v.value for k, v in _load_files().items()}  # registry values before any adopted calibration
    groups: dict[str, list] = {}
    for name in p:
        par = p[name]
        groups.setdefault(par.module, []).append(par)
    lines = [f"{len(p)} parameters in {len(groups)} modules (parameter set `{p.version}`). "
             "Values and ranges are in the unit shown; `1` means dimensionless (relative quantities are 1 "
             "in the healthy state).", ""]
    for module, pars in groups.items():
        lines.append(f"### `{module}`")
        lines.append("")
        lines.append("| " + " | ".join(HEADER) + " |")
        lines.append("|" + "|".join("---" for _ in HEADER) + "|")
        for par in pars:
            val = _num(par.value)
            if par.name in prior and abs(prior[par.name] - par.value) > 1e-12 * max(1.0, abs(par.value)):
                val += f" (prior {_num(prior[par.name])})"
            cells = (f"`{par.name}`", val, _cell(par.unit), f"{_num(par.low)} – {_num(par.high)}",
                     _cell(_origin(par)))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def replace_block(text: str, table: str) -> str:
    """``text`` with everything between the parameter-table markers replaced by ``table``.

    Example
    -------
    >>> replace_block(f"a\\n{BEGIN}\\nold\\n{END}\\nb\\n", "new\\n")
    'a\\n<!-- BEGIN PARAMETER TABLE -->\\nnew\\n<!-- END PARAMETER TABLE -->\\nb\\n'
    """
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        raise ValueError(f"markers {BEGIN!r} ... {END!r} not found in order")
    return text[: i + len(BEGIN)] + "\n" + table + text[j:]


def generated_block(text: str) -> str:
    """The text between the parameter-table markers (without the markers and the newline after BEGIN)."""
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        raise ValueError(f"markers {BEGIN!r} ... {END!r} not found in order")
    return text[i + len(BEGIN) + 1: j]


def model_md_path() -> Path:
    """``docs/model.md`` of the source checkout (this file lives in ``src/neuroplastic``)."""
    return Path(__file__).resolve().parents[2] / "docs" / "model.md"


def main(argv: list[str] | None = None) -> int:
    """Rewrite the generated parameter table in ``docs/model.md`` (or the file given as the first argument)."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else model_md_path()
    text = path.read_text(encoding="utf-8")
    new = replace_block(text, parameter_table_markdown())
    if new != text:
        path.write_text(new, encoding="utf-8")
        print(f"updated the parameter table in {path}")
    else:
        print(f"the parameter table in {path} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
