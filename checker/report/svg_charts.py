"""Inline SVG charts for the HTML report, drawn in Python so the file needs no script
library and prints as vector graphics. Colours come from CSS classes (series-<key>) defined
in html_assets, so the charts follow the report's palette and print styles. Coordinates are
rounded to one decimal: identical input gives identical bytes.
"""
from __future__ import annotations

import datetime as dt
from html import escape

WIDTH = 760


def _n(x: float) -> str:
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def nice_ticks(top: int, most: int = 6) -> list[int]:
    """0, step, 2*step, ... covering `top`, with step 1, 2 or 5 times a power of ten."""
    top = max(int(top), 1)
    step = 1
    while True:
        for mult in (1, 2, 5):
            if -(-top // (step * mult)) <= most:
                s = step * mult
                return list(range(0, -(-top // s) * s + 1, s))
        step *= 10


def _frame(title: str, desc: str, height: float, body: list[str], label_id: str) -> str:
    return (f'<svg class="chart" viewBox="0 0 {WIDTH} {_n(height)}" role="img" '
            f'aria-labelledby="{label_id}-t {label_id}-d" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{label_id}-t">{escape(title)}</title><desc id="{label_id}-d">{escape(desc)}</desc>'
            + "".join(body) + "</svg>")


def bar_chart(rows: list[tuple[str, dict[str, int]]], series: list[tuple[str, str]], *, title: str,
              desc: str, label_id: str) -> str:
    """Horizontal stacked bars, one row per (label, {series key: count}); `series` is
    [(key, legend label), ...] in stacking order."""
    label_w, left, right, top = 150, 160, 60, 34
    # Long clause lists get tighter rows so the chart stays about a screen high.
    row_h, bar_h = (24, 14) if len(rows) <= 20 else (18, 11)
    plot_w = WIDTH - left - right
    totals = [sum(counts.get(k, 0) for k, _ in series) for _, counts in rows]
    ticks = nice_ticks(max(totals, default=1))
    scale = plot_w / ticks[-1]
    height = top + row_h * len(rows) + 28
    body = []
    # Legend across the top, grid and tick labels below the bars.
    x = left
    for key, label in series:
        body.append(f'<rect class="series-{key}" x="{_n(x)}" y="6" width="12" height="12" rx="2"/>'
                    f'<text class="legend" x="{_n(x + 17)}" y="16">{escape(label)}</text>')
        x += 30 + 7.2 * len(label)
    axis_y = top + row_h * len(rows)
    for t in ticks:
        tx = left + t * scale
        body.append(f'<line class="grid" x1="{_n(tx)}" y1="{top - 4}" x2="{_n(tx)}" y2="{_n(axis_y)}"/>'
                    f'<text class="tick" x="{_n(tx)}" y="{_n(axis_y + 16)}" text-anchor="middle">{t}</text>')
    for i, ((label, counts), total) in enumerate(zip(rows, totals)):
        y = top + i * row_h + (row_h - bar_h) / 2
        body.append(f'<text class="axis-label" x="{label_w}" y="{_n(y + bar_h - 3)}" text-anchor="end">'
                    f'{escape(label)}</text>')
        x = left
        for key, name in series:
            n = counts.get(key, 0)
            if n:
                w = n * scale
                body.append(f'<rect class="series-{key}" x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{bar_h}">'
                            f'<title>{escape(label)}: {n} {escape(name.lower())}</title></rect>')
                x += w
        body.append(f'<text class="value" x="{_n(x + 6)}" y="{_n(y + bar_h - 3)}">{total}</text>')
    return _frame(title, desc, height, body, label_id)


def line_chart(runs: list[dict], series: list[tuple[str, str]], *, title: str, desc: str, label_id: str) -> str:
    """One line per (key, legend label) over runs [{"as_of": date, key: count, ...}, ...]
    sorted by date; x is proportional to time, a run lacking a key leaves a gap."""
    left, right, top, bottom, height = 52, 130, 14, 46, 280
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    days = [dt.date.fromisoformat(r["as_of"]).toordinal() for r in runs]
    span = days[-1] - days[0]
    xs = [left + plot_w / 2] if span == 0 else [left + (d - days[0]) * plot_w / span for d in days]
    if span == 0:
        xs = xs * len(runs)
    peak = max((r[k] for r in runs for k, _ in series if k in r), default=1)
    ticks = nice_ticks(peak)
    yscale = plot_h / ticks[-1]
    base = top + plot_h
    body = []
    for t in ticks:
        ty = base - t * yscale
        body.append(f'<line class="grid" x1="{left}" y1="{_n(ty)}" x2="{left + plot_w}" y2="{_n(ty)}"/>'
                    f'<text class="tick" x="{left - 8}" y="{_n(ty + 4)}" text-anchor="end">{t}</text>')
    # At most about eight date labels fit; the last run (usually this report) is always named.
    every = max(1, -(-len(runs) // 8))
    for i, (run, x) in enumerate(zip(runs, xs)):
        if i % every == 0 or i == len(runs) - 1:
            body.append(f'<line class="axis" x1="{_n(x)}" y1="{_n(base)}" x2="{_n(x)}" y2="{_n(base + 5)}"/>'
                        f'<text class="tick" x="{_n(x)}" y="{_n(base + 20)}" text-anchor="middle">'
                        f'{escape(run["as_of"])}</text>')
    body.append(f'<line class="axis" x1="{left}" y1="{_n(base)}" x2="{left + plot_w}" y2="{_n(base)}"/>')
    for j, (key, label) in enumerate(series):
        points = [(x, base - r[key] * yscale, r) for r, x in zip(runs, xs) if key in r]
        segments: list[list[tuple[float, float]]] = [[]]
        for r, x in zip(runs, xs):
            if key in r:
                segments[-1].append((x, base - r[key] * yscale))
            elif segments[-1]:
                segments.append([])
        for seg in segments:
            if len(seg) > 1:
                body.append(f'<polyline class="line series-{key}" points="'
                            + " ".join(f"{_n(x)},{_n(y)}" for x, y in seg) + '"/>')
        for x, y, r in points:
            body.append(f'<circle class="series-{key}" cx="{_n(x)}" cy="{_n(y)}" r="3.5">'
                        f'<title>{escape(r["as_of"])}: {r[key]} {escape(label.lower())}</title></circle>')
        ly = top + 10 + j * 20
        body.append(f'<line class="line series-{key}" x1="{WIDTH - right + 14}" y1="{ly}" '
                    f'x2="{WIDTH - right + 34}" y2="{ly}"/>'
                    f'<text class="legend" x="{WIDTH - right + 40}" y="{ly + 4}">{escape(label)}</text>')
    return _frame(title, desc, height, body, label_id)
