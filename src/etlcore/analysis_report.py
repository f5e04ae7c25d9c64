"""The analysis report (`report.html`): one self-contained page a reader scans from the top.

First a one-screen summary: the funnel of documents through the config's stages with each filter's drop
share at its cutoff, and the other findings in a line each. Then a section per statistic: its
percentiles, a histogram and the share of documents each candidate cutoff would drop. Each plot's axis
spans the data's own range (the 0.5th to the 99.5th percentile, on a log scale when the upper tail
covers orders of magnitude); a cutoff outside that range is an arrow at the edge with its value.
Plots are matplotlib PNGs inlined as data URLs; nothing is fetched and there is no script.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

PAGE_WIDTH = 1160  # CSS pixels of content; the plots are drawn at this scale, one pixel per pixel
TABLE_WIDTH = 190  # the percentile table beside each plot
BAR_WIDTH = 300  # the funnel's and the languages' bars at 100 %
DPI = 100
BLUE, RED, GREY = "#4477aa", "#cc3311", "#888888"

STYLE = f"""
body{{font-family:"Noto Sans","Noto Sans CJK SC",sans-serif;width:{PAGE_WIDTH}px;margin:16px auto;color:#222;
 font-size:14px;line-height:1.4}}
h1{{font-size:22px;margin:0 0 4px}} h2{{font-size:18px;margin:28px 0 4px;border-top:1px solid #ddd;padding-top:12px}}
h2 small{{font-weight:normal;color:#666}} p{{margin:4px 0 8px}}
table{{border-collapse:collapse}} th,td{{border:1px solid #d0d0d0;padding:2px 8px;text-align:left}}
th{{background:#f3f3f3}} td.n{{text-align:right;font-variant-numeric:tabular-nums}}
.row{{display:flex;gap:12px;align-items:flex-start}} .row table{{width:{TABLE_WIDTH}px;flex:none}}
.row img{{flex:none}} .funnel td{{padding:1px 6px;white-space:nowrap}} .funnel th{{padding:2px 6px}}
.bar{{height:12px;background:{BLUE};display:inline-block;vertical-align:middle}}
.cut{{height:12px;background:{RED};display:inline-block;vertical-align:middle;opacity:.75}}
.funnel td.barcell{{width:{BAR_WIDTH}px}} .muted{{color:#666}} nav a{{margin-right:10px}}
.glance{{display:flex;gap:16px;margin-top:10px}} .glance > div{{flex:1}}
"""


def render(summary: dict[str, Any], statistics: dict[str, np.ndarray], lengths: np.ndarray) -> str:
    """The report page for an analysis `summary` (see `etlcore.analysis`), with every document's
    statistic values (cleaned documents, input order) and lengths for the plots."""
    parts = [_overview(summary)]
    for name, described in summary["statistics"].items():
        parts.append(_statistic_section(name, described, statistics[name]))
    parts.append(_length_section(summary["length"], lengths))
    parts.append(_languages_section(summary["languages"], summary["language_documents"]))
    parts.append(_clusters_section(summary["near_duplicate_clusters"]))
    parts.append(_personal_data_section(summary["documents_with_personal_data"],
                                        summary["documents"] - summary["emptied_by_clean"]))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>etlcore analysis</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")


# ---- the one-screen summary ----

def _overview(summary: dict[str, Any]) -> str:
    funnel = summary["funnel"]
    cleaned = summary["documents"] - summary["emptied_by_clean"]
    sections = [(name, f"#{_anchor(name)}") for name in summary["statistics"]]
    sections += [("length", "#length"), ("languages", "#languages"), ("near-duplicates", "#near-duplicates"),
                 ("personal data", "#personal-data")]
    nav = "<nav>Sections: " + "".join(f'<a href="{href}">{html.escape(label)}</a>' for label, href in sections)
    intro = (f"<p>{funnel[0]['documents']:,} input rows: {summary['documents']:,} documents, "
             f"{summary['invalid_rows']:,} unreadable (they would go to the invalid file). Every statistic is "
             f"of the text after the config's clean stage. Nothing was changed or written but this report.</p>")
    return (f"<h1>etlcore analysis</h1>{intro}<h2 style='border:0;margin-top:12px'>Documents through the "
            f"config's stages</h2>{_funnel_table(summary)}{_glance(summary, cleaned)}{nav}</nav>")


def _funnel_table(summary: dict[str, Any]) -> str:
    funnel = summary["funnel"]
    total = max(funnel[0]["documents"], 1)
    cleaned = funnel[2]["documents"]
    rows = []
    for step in funnel:
        name, left, dropped = step["step"], step["documents"], step["dropped"]
        rule, alone = _step_rule(step, summary), ""
        if "statistic" in step:
            described = summary["statistics"][step["statistic"]]
            share = next(iter(described["cutoffs"].values()), {}).get("dropped_at_configured")
            if share is not None:
                alone = f"{_share(share)} ({round(share * cleaned):,})"
            label = f'<a href="#{_anchor(step["statistic"])}">{html.escape(name)}</a>'
        else:
            label = html.escape(name)
        bar = (f'<span class="bar" style="width:{BAR_WIDTH * left / total:.1f}px"></span>'
               f'<span class="cut" style="width:{BAR_WIDTH * dropped / total:.1f}px"></span>')
        before = left + dropped
        share_here = _share(dropped / before) if before and step is not funnel[0] else ""
        rows.append(f"<tr><td>{label}</td><td>{rule}</td><td class='n'>{left:,}</td>"
                    f"<td class='n'>{'' if step is funnel[0] else f'{dropped:,}'}</td><td class='n'>{share_here}</td>"
                    f"<td class='n'>{alone}</td><td class='barcell'>{bar}</td></tr>")
    head = ("<tr><th>step</th><th>rule</th><th>documents left</th><th>dropped</th><th>of those reaching it</th>"
            "<th>alone *</th><th>left (blue), dropped here (red)</th></tr>")
    note = ("* what the filter drops when it is the only one (its cutoff applied to every cleaned document), as a "
            "share of the cleaned documents; each filter's row above counts what it drops after the ones before it.")
    if funnel[-1].get("fingerprints_only"):
        note += (" Deduplication here compares fingerprints only, "
                 + ("and a run also confirms each candidate pair by its texts: a run drops at most this many."
                    if funnel[-1].get("confirmed_by_texts_in_a_run") else "as a run with this config does."))
    note = f"<p class='muted'>{note}</p>"
    return f"<table class='funnel'>{head}{''.join(rows)}</table>{note}"


def _step_rule(step: dict[str, Any], summary: dict[str, Any]) -> str:
    if step["step"] == "input rows":
        return "every line or row of the inputs"
    if step["step"] == "readable":
        return "valid JSON with a text"
    if step["step"] == "clean":
        return "text left after cleaning"
    if "statistic" in step:
        cutoffs = summary["statistics"][step["statistic"]]["cutoffs"]
        bounds = " and ".join(f"{_bound_word(arg)} {_num(data['configured'])}" for arg, data in cutoffs.items())
        return html.escape(f"{step['statistic']}: {bounds}" if bounds else step["statistic"])
    distance = summary["near_duplicate_clusters"]["distance"]
    return f"near-duplicates within {distance} bits"


def _glance(summary: dict[str, Any], cleaned: int) -> str:
    languages = summary["languages"]
    top = ", ".join(f"{html.escape(k)} {_share(v)}" for k, v in list(languages.items())[:4]) or "none"
    clusters = summary["near_duplicate_clusters"]
    in_clusters = clusters.get("documents_in_clusters_of_2_or_more", 0)
    personal = summary["documents_with_personal_data"]
    personal_text = (", ".join(f"{html.escape(k)} {v:,}" for k, v in personal.items())
                     if personal else "the config has no desensitization operator")
    length = summary["length"]
    median = f"{_num(length['p50'])} characters" if length.get("p50") is not None else "–"
    boxes = [("Languages", top), ("Near-duplicates", f"{in_clusters:,} of {cleaned:,} documents in "
                                                      f"clusters of 2 or more (within {clusters['distance']} bits)"),
             ("Personal data (documents)", personal_text), ("Length", f"median {median}")]
    return "<div class='glance'>" + "".join(f"<div><b>{title}</b><br>{text}</div>" for title, text in boxes) + "</div>"


# ---- a section per statistic ----

@dataclass(frozen=True)
class Axis:
    """A plot's value axis: from `low` to `high`, logarithmic or not."""

    low: float
    high: float
    log: bool

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high

    def fraction(self, value: float) -> float:
        """Where `value` lies along the axis, 0 at `low` and 1 at `high`."""
        if self.log:
            return float(np.log(value / self.low) / np.log(self.high / self.low))
        return (value - self.low) / (self.high - self.low)


def choose_axis(values: np.ndarray) -> Axis:
    """The data's own range: its 0.5th to 99.5th percentile (its whole range when those are equal), on a
    log scale when every value is positive and the upper tail spans orders of magnitude."""
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return Axis(0.0, 1.0, False)
    low, middle, high = (float(v) for v in np.quantile(finite, [0.005, 0.5, 0.995]))
    if high <= low:
        low, high = float(finite.min()), float(finite.max())
    if high <= low:
        pad = abs(low) * 0.1 or 0.5
        return Axis(low - pad, high + pad, False)
    log = low > 0 and high / low >= 50 and high - middle > 4 * (middle - low)
    return Axis(low, high, log)


def statistic_figure(name: str, described: dict[str, Any], values: np.ndarray) -> Any:
    """A statistic's matplotlib figure: its histogram and its cutoff curve side by side, on one value axis."""
    axis = choose_axis(values)
    cutoffs = {arg: data["configured"] for arg, data in described["cutoffs"].items()}
    curves = {arg: np.array(data["candidates"]).reshape(-1, 2) for arg, data in described["cutoffs"].items()}
    figure, (histogram, curve) = _pyplot().subplots(1, 2, figsize=_figsize(2), layout="constrained")
    _histogram(histogram, values, axis, name, cutoffs)
    _cutoff_curve(curve, axis, name, curves, described["cutoffs"])
    return figure


def _statistic_section(name: str, described: dict[str, Any], values: np.ndarray) -> str:
    axis = choose_axis(values)
    sentence = _cutoff_sentence(described)
    missing = f" {described['missing']:,} documents have no value." if described["missing"] else ""
    outside = [f"{_bound_word(arg)} {_num(data['configured'])}" for arg, data in described["cutoffs"].items()
               if not axis.holds(data["configured"])]
    alt = (f"{name}: histogram and cutoff curve from {_num(axis.low)} to {_num(axis.high)}"
           + (" on a log scale" if axis.log else "")
           + (f"; beyond the axis, marked by an arrow: {', '.join(outside)}" if outside else ""))
    image = _png(statistic_figure(name, described, values), alt)
    return (f"<h2 id='{_anchor(name)}'>{html.escape(name)} <small>{html.escape(described['operator'])}</small></h2>"
            f"<p>{sentence}{missing} {_axis_note(values, axis)}</p>"
            f"<div class='row'>{_percentile_table(described['quantiles'])}{image}</div>")


def _cutoff_sentence(described: dict[str, Any]) -> str:
    if not described["cutoffs"]:
        return "The config sets no cutoff."
    bounds = " and ".join(f"{_bound_word(arg)} {_num(data['configured'])} (<code>{html.escape(arg)}</code>)"
                          for arg, data in described["cutoffs"].items())
    share = next(iter(described["cutoffs"].values()))["dropped_at_configured"]
    return f"Cutoffs: {bounds}; on its own the filter drops <b>{_share(share)}</b> of the cleaned documents."


def _axis_note(values: np.ndarray, axis: Axis) -> str:
    finite = values[np.isfinite(values)]
    below, above = int((finite < axis.low).sum()), int((finite > axis.high).sum())
    outside = ""
    if below or above:
        outside = f"; {below:,} documents below it and {above:,} above it are not drawn"
    scale = ", log scale" if axis.log else ""
    common = ""
    if len(finite):
        distinct, counts = np.unique(finite, return_counts=True)
        if counts.max() > len(finite) / 2:  # say it: the histogram's log scale makes it look smaller
            common = f" {counts.max():,} of the {len(finite):,} documents have {_num(distinct[counts.argmax()])}."
    return f"{common}<span class='muted'> Axis: {_num(axis.low)} to {_num(axis.high)}{scale}{outside}.</span>"


def _histogram(axes: Any, values: np.ndarray, axis: Axis, name: str, cutoffs: dict[str, float]) -> None:
    finite = values[np.isfinite(values)]
    shown = finite[(finite >= axis.low) & (finite <= axis.high)]
    bins = np.geomspace(axis.low, axis.high, 41) if axis.log else np.linspace(axis.low, axis.high, 41)
    counts, _, _ = axes.hist(shown, bins=bins, color=BLUE)
    # One value holding most documents (a ratio that is 0 for nearly all) would flatten every other bar.
    crowded = len(shown) > 0 and counts.max() > 0.5 * len(shown) and (counts > 0).sum() > 1
    if crowded:
        axes.set_yscale("log")
        axes.set_ylim(bottom=0.7)
    _set_scale(axes, axis)
    axes.set_title(f"{name}: documents per value")
    axes.set_xlabel(f"{name}{' (log scale)' if axis.log else ''}")
    axes.set_ylabel("documents" + (" (log scale)" if crowded else ""))
    for arg, value in cutoffs.items():
        _mark_cutoff(axes, axis, arg, value)


def _cutoff_curve(axes: Any, axis: Axis, name: str, curves: dict[str, np.ndarray],
                  described: dict[str, Any]) -> None:
    for color, (arg, points) in zip((BLUE, "#228833"), curves.items()):
        inside = points[(points[:, 0] >= axis.low) & (points[:, 0] <= axis.high)] if len(points) else points
        axes.plot(inside[:, 0], inside[:, 1] * 100, color=color, label=f"{_bound_word(arg)} cutoff")
        configured, share = described[arg]["configured"], described[arg]["dropped_at_configured"]
        if axis.holds(configured):
            axes.plot([configured], [share * 100], "o", color=RED)
            left = axis.fraction(configured) > 0.6  # the label goes where it stays inside the plot
            axes.annotate(f"{_bound_word(arg)} {_num(configured)}: filter drops {_share(share)}",
                          (configured, share * 100),
                          textcoords="offset points", xytext=(-6 if left else 6, 6), ha="right" if left else "left",
                          color=RED, fontsize=9)
        _mark_cutoff(axes, axis, arg, configured, f"filter drops {_share(share)}")
    _set_scale(axes, axis)
    axes.set_ylim(-3, 103)
    axes.set_title("documents dropped at each candidate cutoff")
    other = "; the other cutoff as configured" if len(curves) > 1 else ""
    axes.set_xlabel(f"cutoff on {name}{' (log scale)' if axis.log else ''}{other}")
    axes.set_ylabel("% of the cleaned documents dropped")
    if len(curves) > 1:
        axes.legend(fontsize=8, loc="center right")


def _mark_cutoff(axes: Any, axis: Axis, arg: str, value: float, extra: str = "") -> None:
    """A cutoff inside the axis is a dashed line; outside, an arrow at the edge it lies beyond."""
    label = f"{_bound_word(arg)} {_num(value)}" + (f": {extra}" if extra else "")
    if axis.holds(value):
        axes.axvline(value, color=RED, linestyle="--", linewidth=1.2)
        if not extra:  # the histogram names the line; the curve's point is annotated already
            left = axis.fraction(value) > 0.6
            axes.annotate(label, (value, 1), xycoords=("data", "axes fraction"), xytext=(-3 if left else 3, -12),
                          textcoords="offset points", ha="right" if left else "left", color=RED, fontsize=9,
                          bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
        return
    right = value > axis.high
    row = 0.78 if "max" in arg else 0.9
    axes.annotate(("" if right else "← ") + label + (" →" if right else ""), xy=(1.0 if right else 0.0, row),
                  xycoords="axes fraction", xytext=(0.97 if right else 0.03, row - 0.12),
                  textcoords="axes fraction", ha="right" if right else "left", color=RED, fontsize=9,
                  bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
                  arrowprops={"arrowstyle": "->", "color": RED})


def _set_scale(axes: Any, axis: Axis) -> None:
    if axis.log:
        axes.set_xscale("log")
    axes.set_xlim(axis.low, axis.high)


def _percentile_table(quantiles: dict[str, float | None]) -> str:
    rows = "".join(f"<tr><td>{html.escape(key)}</td><td class='n'>{_num(value)}</td></tr>"
                   for key, value in quantiles.items())
    return f"<table><tr><th>percentile</th><th>value</th></tr>{rows}</table>"


# ---- the other findings ----

def _length_section(quantiles: dict[str, float | None], lengths: np.ndarray) -> str:
    body = ""
    if len(lengths):
        values = lengths.astype(np.float64)
        axis = choose_axis(values)
        figure, axes = _pyplot().subplots(figsize=_figsize(1), layout="constrained")
        _histogram(axes, values, axis, "characters", {})
        axes.set_title("documents per length")
        body = f"<p>{_axis_note(values, axis)}</p>"
        alt = f"documents per length from {_num(axis.low)} to {_num(axis.high)} characters"
        body += f"<div class='row'>{_percentile_table(quantiles)}{_png(figure, alt)}</div>"
    return "<h2 id='length'>Length <small>characters after cleaning</small></h2>" + body


def _languages_section(languages: dict[str, float], documents: dict[str, int]) -> str:
    rows = "".join(f"<tr><td>{html.escape(code)}</td><td class='n'>{_share(share)}</td>"
                   f"<td class='n'>{documents[code]:,}</td><td class='barcell'>"
                   f"<span class='bar' style='width:{BAR_WIDTH * share:.1f}px'></span></td></tr>"
                   for code, share in languages.items())
    return ("<h2 id='languages'>Languages <small>fastText lid.176, the most likely language</small></h2>"
            "<p>The 20 most frequent languages of the cleaned documents.</p><table class='funnel'>"
            f"<tr><th>language</th><th>share</th><th>documents</th><th></th></tr>{rows}</table>")


def _clusters_section(clusters: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td class='n'>{int(size):,}</td><td class='n'>{count:,}</td>"
                   f"<td class='n'>{int(size) * count:,}</td></tr>"
                   for size, count in sorted(clusters["sizes"].items(), key=lambda item: int(item[0])))
    return (f"<h2 id='near-duplicates'>Near-duplicates <small>fingerprints within {clusters['distance']} bits, "
            "linked transitively</small></h2>"
            f"<p>{clusters['clusters']:,} clusters; a cluster of 1 is a document without a near-duplicate. "
            "Deduplication keeps the first document of each cluster.</p>"
            "<table><tr><th>cluster size</th><th>clusters</th><th>documents</th></tr>" + rows + "</table>")


def _personal_data_section(personal: dict[str, int], documents: int) -> str:
    heading = "<h2 id='personal-data'>Personal data <small>the config's desensitization operators</small></h2>"
    if not personal:
        return heading + "<p>The config has no desensitization operator.</p>"
    rows = "".join(f"<tr><td>{html.escape(name)}</td><td class='n'>{count:,}</td>"
                   f"<td class='n'>{_share(count / max(documents, 1))}</td></tr>" for name, count in personal.items())
    return (heading + "<p>Documents in which each operator would change something.</p>"
            "<table><tr><th>operator</th><th>documents</th><th>share</th></tr>" + rows + "</table>")


# ---- helpers ----

def _share(share: float) -> str:
    """A share in per cent, one decimal; a share too small for it says so rather than reading 0.0 %."""
    return "under 0.1%" if 0 < share < 0.0005 else f"{share:.1%}"


def _bound_word(arg: str) -> str:
    return "min" if "min" in arg else "max" if "max" in arg else arg


def _anchor(name: str) -> str:
    return "stat-" + "".join(c if c.isalnum() else "-" for c in name)


def _num(value: float | None) -> str:
    if value is None:
        return "–"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _figsize(panels: int) -> tuple[float, float]:
    """Inches for a figure filling the page beside its percentile table."""
    width = (PAGE_WIDTH - TABLE_WIDTH - 12) / DPI
    return (width, 3.4 if panels == 2 else 3.0)


def _pyplot() -> Any:
    """matplotlib's pyplot drawing off screen (imported only when a report is drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure: Any, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    _pyplot().close(figure)
    width = round(figure.get_figwidth() * DPI)
    return (f'<img alt="{html.escape(alt)}" width="{width}" '
            f'src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">')
