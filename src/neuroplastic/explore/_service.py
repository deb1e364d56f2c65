"""What the explorer computes, without any web framework: validation, simulation as JSON, plots, downloads, stories.

Every function takes scenario YAML text (the same text ``neuroplastic simulate`` reads) and goes through the same
schema (:func:`neuroplastic.scenario.parse_scenario`) and the same :func:`neuroplastic.simulate`, so a page, a
program and the command line see one model.
"""

from __future__ import annotations

import io
import math
import tempfile
from pathlib import Path

import numpy as np

from ..errors import NeuroplasticError, ScenarioError
from ..scenario import parse_scenario

MAX_TEXT = 1 << 20  # bytes of scenario YAML accepted, as for files (scenario/_yaml.py)


def scenario_from_text(text: str):
    """The validated :class:`~neuroplastic.scenario.Scenario` of YAML ``text`` (raises :class:`ScenarioError`).

    Example
    -------
    >>> scenario_from_text("duration: 1 week").duration / 86400
    7.0
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT:
        raise ScenarioError("scenario text", f"{len(text)} characters", "at most 1 MiB of YAML")
    return parse_scenario(text)


def error_json(err: Exception) -> dict:
    """The one-line error of a refused scenario, with the field it names (for the page to show next to it).

    Example
    -------
    >>> error_json(ScenarioError("treatments[0].dose", "ten mg", "a mass, e.g. '10 mg'"))["field"]
    'treatments[0].dose'
    """
    return {"error": str(err), "field": getattr(err, "field", None)}


def _finite(a: np.ndarray):
    """Nested lists with NaN/inf as None (JSON has no NaN)."""
    a = np.asarray(a)
    if a.dtype.kind in "fc":
        obj = a.astype(object)
        obj[~np.isfinite(a)] = None
        return obj.tolist()
    return a.tolist()


def result_json(result) -> dict:
    """A :class:`~neuroplastic.results.Result` as JSON: ``time`` (days), every output variable as nested lists in
    the dataset's own dimension order (``dims``: arm, patient, time, compound where present; the same numbers as
    ``results.nc``), ``arms``, ``compounds``, ``units`` and the ``summary``.

    Example
    -------
    >>> from neuroplastic import simulate
    >>> j = result_json(simulate("duration: 2 days\\noutput_every: 1 day"))
    >>> j["time"], len(j["hamd17_expected"][0])
    ([0.0, 1.0, 2.0], 3)
    """
    ds = result.dataset
    out = {"time": [float(t) for t in ds["time"].values], "dims": {}, "units": {},
           "arms": [str(a) for a in ds["arm"].values] if "arm" in ds.dims else None,
           "compounds": [str(c) for c in ds["compound"].values] if "compound" in ds.dims else [],
           "summary": result.summary}
    for name, da in ds.data_vars.items():
        if name in ("time", "dims", "units", "arms", "compounds", "summary"):
            continue
        out[name] = _finite(da.values)
        out["dims"][name] = list(da.dims)
        if "units" in da.attrs:
            out["units"][name] = str(da.attrs["units"])
    return out


def simulate_text(text: str, *, progress=None, chunk: int | None = None):
    """Run the scenario of YAML ``text``: the :class:`~neuroplastic.results.Result` of ``neuroplastic simulate``."""
    from .. import simulate
    return simulate(scenario_from_text(text), progress=progress, chunk=chunk)


def library() -> dict:
    """What the scenario builder offers: drugs (class, routes, usual dose, formulations), TMS protocols, targets and
    coils, placebo forms, psychotherapy kinds, populations, hypotheses and ketamine mechanisms.

    Example
    -------
    >>> lib = library()
    >>> "escitalopram" in lib["drugs"], "sgacc_anticorrelated" in lib["tms_targets"]
    (True, True)
    """
    from ..brain.model import KETAMINE_MECHANISMS
    from ..pharmacology import DRUGS
    from ..physics.tms.protocols import NAMES
    from ..physics.tms.targeting import METHODS
    from ..population import POPULATIONS
    from ..therapy.placebo import FORMS
    from ..therapy.psychotherapy import KINDS
    drugs = {k: {"class": d.drug_class, "routes": list(d.routes), "typical_dose": d.typical_dose,
                 "formulations": list(d.formulations)} for k, d in DRUGS.items()}
    return {"drugs": drugs, "tms_protocols": list(NAMES), "tms_targets": list(METHODS), "coils": ["figure8", "round"],
            "placebo_forms": list(FORMS), "psychotherapy_kinds": list(KINDS), "populations": list(POPULATIONS),
            "hypotheses": ["plasticity", "monoamine"], "ketamine_mechanisms": list(KETAMINE_MECHANISMS)}


# -- downloads ----------------------------------------------------------------------------------------------------
def netcdf_bytes(result) -> bytes:
    """``results.nc`` of a result, as bytes."""
    with tempfile.TemporaryDirectory(prefix="neuroplastic-explore-") as d:
        p = Path(d) / "results.nc"
        result.dataset.to_netcdf(p)
        return p.read_bytes()


def csv_text(result) -> str:
    """The time courses of a result as one long CSV table: arm (where there are arms), patient, time (days) and a
    column per variable without a compound axis (plasma per compound as ``plasma_<compound>``)."""
    ds = result.dataset
    cols = [k for k, v in ds.data_vars.items() if "time" in v.dims and "compound" not in v.dims]
    df = ds[cols].to_dataframe().reset_index()
    if "plasma" in ds and "compound" in ds.dims:
        for c in ds["compound"].values:
            df[f"plasma_{c}"] = ds["plasma"].sel(compound=c).to_dataframe(name="v")["v"].values
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue()


def png_bytes(result) -> bytes:
    """The overview figure (as ``overview.png`` of ``neuroplastic simulate``), as bytes."""
    import matplotlib
    matplotlib.use("Agg")
    from ..results._figures import overview
    with tempfile.TemporaryDirectory(prefix="neuroplastic-explore-") as d:
        p = Path(d) / "overview.png"
        overview(result.dataset, p, result.summary)
        return p.read_bytes()


# -- plots (Bokeh) ------------------------------------------------------------------------------------------------
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
_LAYERS = (
    ("Plasma", "plasma (ng/mL)", "log", [("plasma", None)]),
    ("Occupancy", "occupancy (%)", "linear", [("sert_occupancy", "SERT"), ("net_occupancy", "NET"),
                                             ("dat_occupancy", "DAT"), ("nmda_occupancy", "NMDA")]),
    ("Monoamines", "relative to day 0", "linear", [("synaptic_5ht", "5-HT"), ("synaptic_ne", "NE"),
                                                   ("synaptic_da", "DA")]),
    ("BDNF and spines", "relative to day 0", "linear", [("bdnf", "BDNF"), ("spine_density", "spine density")]),
    ("Neurogenesis", "relative to day 0", "linear", [("neurogenesis_mature", "mature adult-born neurons"),
                                                     ("neurogenesis_immature_total", "immature neurons")]),
    ("Circuit", "relative to day 0", "linear", [("activity_dlpfc", "dlPFC activity"), ("activity_sgacc", "sgACC activity"),
                                                ("control_efficacy", "dlPFC->sgACC control")]),
    ("Expectancy", "1 = an oral placebo course", "linear", [("expectancy", "expectancy of benefit")]),
)


def _arms(ds):
    return [str(a) for a in ds["arm"].values] if "arm" in ds.dims else [None]


def _per_arm(da, arm):
    return da.sel(arm=arm) if arm is not None else da


def plots(results: list, labels: list[str] | None = None) -> dict:
    """Bokeh figures (``json_item`` documents) of one or more results. ``timeline``: one document whose panels share
    the time axis: the scales (HAM-D17 and MADRS expected scores with response and remission lines; a cohort as
    median and interquartile band per arm) above the mechanism layers (plasma, occupancy, monoamines, BDNF and
    spines, neurogenesis, circuit, expectancy: the mean of the patients, per arm). ``rates``: response and remission per arm at
    the end. Several results (two
    scenarios, or one scenario under both hypotheses) are drawn side by side in the same panels, labelled."""
    from bokeh.embed import json_item
    from bokeh.layouts import gridplot
    from bokeh.models import ColumnDataSource, HoverTool, Range1d, Span
    from bokeh.plotting import figure

    labels = labels or [f"run {i + 1}" for i in range(len(results))]
    t_end = max(float(r.dataset["time"].values[-1]) for r in results)
    x = Range1d(0, max(t_end, 1e-6))
    series = []  # (result label, arm label, colour index)
    for r, lab in zip(results, labels):
        for arm in _arms(r.dataset):
            series.append((r, lab, arm))
    multi = len(series) > 1
    name = lambda lab, arm: (f"{lab}: {arm}" if arm else lab) if multi or arm else lab  # noqa: E731

    def fig(title, ylabel, y_type="linear", height=260):
        f = figure(title=title, x_range=x, y_axis_type=y_type, height=height, sizing_mode="stretch_width",
                   x_axis_label="time (days)", y_axis_label=ylabel, tools="pan,box_zoom,wheel_zoom,reset,save")
        f.add_tools(HoverTool(tooltips=[("series", "$name"), ("day", "@t{0.0}"), ("value", "@y{0.00}")]))
        return f

    scales = []
    for scale, lines in (("hamd17", (7.0,)), ("madrs", (10.0,))):
        f = fig(f"{scale.upper() if scale == 'madrs' else 'HAM-D17'} (expected score; cohorts: median and IQR)",
                "score")
        base = []
        for i, (r, lab, arm) in enumerate(series):
            ds = r.dataset
            key = f"{scale}_expected"
            if key not in ds:
                continue
            v = _per_arm(ds[key], arm).values  # (patient, time)
            t = ds["time"].values
            c = _PALETTE[i % len(_PALETTE)]
            med = np.median(v, axis=0)
            src = ColumnDataSource({"t": t, "y": med, "lo": np.percentile(v, 25, axis=0),
                                    "hi": np.percentile(v, 75, axis=0)})
            if v.shape[0] > 1:
                f.varea("t", "lo", "hi", source=src, fill_color=c, fill_alpha=0.15)
            f.line("t", "y", source=src, color=c, line_width=2, legend_label=name(lab, arm), name=name(lab, arm))
            base.append(float(np.mean(v[:, 0])))
        if base:
            f.add_layout(Span(location=0.5 * float(np.mean(base)), dimension="width", line_dash="dotted",
                              line_color="gray"))
            f.add_layout(Span(location=lines[0], dimension="width", line_dash="dashed", line_color="green"))
            f.legend.location = "top_right"
            f.legend.label_text_font_size = "8pt"
            f.y_range.start = 0
        scales.append(f)
    layer_figs = []
    for title, ylabel, ytype, vars_ in _LAYERS:
        f = fig(title, ylabel, ytype, height=220)
        drawn = False
        for i, (r, lab, arm) in enumerate(series):
            ds = r.dataset
            t = ds["time"].values
            dash = ("solid", "dashed", "dotted", "dotdash")[i % 4]
            for j, (var, vlab) in enumerate(vars_):
                if var not in ds:
                    continue
                da = _per_arm(ds[var], arm)
                if var == "plasma":
                    for k, comp in enumerate(ds["compound"].values):
                        y = da.sel(compound=comp).values.mean(axis=0)
                        if not np.any(y > 0):
                            continue
                        y = np.where(y > 0, y, np.nan)
                        nm = f"{name(lab, arm) + ' ' if multi or arm else ''}{comp}"
                        f.line("t", "y", source=ColumnDataSource({"t": t, "y": y}), color=_PALETTE[k % 8],
                               line_dash=dash, legend_label=nm, name=nm)
                        drawn = True
                    continue
                y = da.values.mean(axis=0)
                if var.endswith("_occupancy"):
                    if not np.any(y > 1e-6):
                        continue
                    y = 100 * y
                elif abs(y[0]) > 1e-12:
                    y = y / y[0]
                nm = f"{name(lab, arm) + ' ' if multi or arm else ''}{vlab}"
                f.line("t", "y", source=ColumnDataSource({"t": t, "y": y}), color=_PALETTE[j % 8], line_dash=dash,
                       legend_label=nm, name=nm)
                drawn = True
        if drawn:
            f.legend.label_text_font_size = "7pt"
            f.legend.location = "top_left"
            layer_figs.append(f)
    # response and remission at the end, per arm and run
    cats = [name(lab, arm) or lab for _, lab, arm in series]
    rates = figure(title="Response and remission at the end (HAM-D17)", x_range=cats,
                   height=240, sizing_mode="stretch_width", y_axis_label="share of patients (%)", y_range=(0, 100),
                   tools="save")
    resp, rem = [], []
    for r, lab, arm in series:
        v = _per_arm(r.dataset["hamd17_expected"], arm).values
        resp.append(100 * float(np.mean(v[:, -1] <= 0.5 * v[:, 0])))
        rem.append(100 * float(np.mean(v[:, -1] <= 7.0)))
    src = ColumnDataSource({"c": cats, "resp": resp, "rem": rem})
    rates.vbar(x="c", top="resp", width=0.35, source=src, color=_PALETTE[0], legend_label="response")
    rates.scatter(x="c", y="rem", size=12, source=src, color=_PALETTE[2], legend_label="remission")
    rates.add_tools(HoverTool(tooltips=[("arm", "@c"), ("response %", "@resp{0.0}"), ("remission %", "@rem{0.0}")]))
    rates.legend.label_text_font_size = "8pt"
    from bokeh.layouts import column
    # one document for every time panel, so they share (link) the time axis
    grid = gridplot([layer_figs[i:i + 2] for i in range(0, len(layer_figs), 2)], sizing_mode="stretch_width",
                    merge_tools=True)
    timeline = column(*scales, grid, sizing_mode="stretch_width")
    return {"timeline": json_item(timeline), "rates": json_item(rates), "labels": labels,
            "numbers": [{"label": c, "response": round(a, 1), "remission": round(b, 1)}
                        for c, a, b in zip(cats, resp, rem)]}


def with_hypothesis(text: str, hypothesis: str) -> str:
    """The scenario YAML ``text`` with its ``hypothesis`` replaced (everything else as written).

    Example
    -------
    >>> scenario_from_text(with_hypothesis("duration: 1 week", "monoamine")).hypothesis
    'monoamine'
    """
    from ..scenario._yaml import load_yaml
    import yaml
    doc = load_yaml(text)
    if not isinstance(doc, dict):
        raise ScenarioError("scenario", type(doc).__name__, "a mapping of scenario keys")
    doc["hypothesis"] = hypothesis
    return yaml.safe_dump(doc, sort_keys=False)


def chunk_for(n_patients: int) -> int | None:
    """Chunk size that makes a cohort stream progress in about 20 steps (the numbers do not depend on it)."""
    return None if n_patients <= 50 else max(25, math.ceil(n_patients / 20))


__all__ = ["NeuroplasticError", "chunk_for", "csv_text", "error_json", "library", "netcdf_bytes", "plots",
           "png_bytes", "result_json", "scenario_from_text", "simulate_text", "with_hypothesis"]
