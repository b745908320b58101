"""Charts drawn on the server as inline SVG: no script, no library, readable without CSS."""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup, escape

COLOURS = {"ko": "#0b57a4", "en": "#c2410c", "both": "#15803d"}
W, H, PAD_L, PAD_B, PAD_T = 640, 200, 40, 28, 10


def line_chart(
    title: str, series: list[tuple[str, str, list[int]]], x_label: str, ticks_every: int = 12
) -> Markup:
    """One line per (key, label, values); a y axis from 0 to the largest value, hour ticks below."""
    points = max((len(v) for _, _, v in series), default=0)
    top = max([max(v, default=0) for _, _, v in series] + [1])
    plot_w, plot_h = W - PAD_L - 10, H - PAD_T - PAD_B

    def x(i: int) -> float:
        return PAD_L + plot_w * i / max(points - 1, 1)

    def y(n: int) -> float:
        return PAD_T + plot_h * (1 - n / top)

    parts = [
        (
            f'<svg class="chart" viewBox="0 0 {W} {H + 24}" role="img" aria-label="{escape(title)}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        ),
        f'<line x1="{PAD_L}" y1="{PAD_T + plot_h}" x2="{W - 10}" y2="{PAD_T + plot_h}" stroke="currentColor" stroke-opacity=".5"/>',
        f'<text x="{PAD_L - 4}" y="{PAD_T + 8}" text-anchor="end" font-size="11" fill="currentColor">{top:,}</text>',
        f'<text x="{PAD_L - 4}" y="{PAD_T + plot_h}" text-anchor="end" font-size="11" fill="currentColor">0</text>',
    ]
    for i in range(0, points, ticks_every):
        parts.append(
            f'<text x="{x(i):.1f}" y="{PAD_T + plot_h + 14}" text-anchor="middle" font-size="11" '
            f'fill="currentColor">{i}</text>'
        )
    parts.append(
        f'<text x="{W - 10}" y="{PAD_T + plot_h + 26}" text-anchor="end" font-size="11" fill="currentColor">'
        f"{escape(x_label)}</text>"
    )
    for n, (key, label, values) in enumerate(series):
        colour = COLOURS.get(key, "#555")
        path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(
            f'<polyline class="series series-{escape(key)}" fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{path}"><title>{escape(label)}: {sum(values):,}</title></polyline>'
        )
        parts.append(
            f'<rect x="{PAD_L + 10 + n * 150}" y="{H + 10}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{PAD_L + 26 + n * 150}" y="{H + 20}" font-size="12" fill="currentColor">'
            f"{escape(label)} ({sum(values):,})</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


# Horizontal bars: one row per period, newest at the top (read like the table under it), a bar per series.
BAR_W, LABEL_W, BAR_H, ROW_GAP, VALUE_W = 400, 96, 9, 8, 52


def bar_chart(
    title: str,
    rows: list[tuple[str, list[float | None]]],
    series: list[tuple[str, str, str]],
    shown: Callable[[float | None], str] = lambda v: "–" if v is None else f"{v:,.0f}",
    top: float | None = None,
    mark: float | None = None,
) -> Markup:
    """rows: (label, one value per series); series: (key, label, colour). Bars scale to `top` (the largest
    value when None); each bar ends with its value written out, so the chart reads without colour. `mark`
    draws a dashed line at that value (a limit). A value of None (no base for a rate) has no bar."""
    top = max([top or 0, mark or 0] + [v or 0 for _, values in rows for v in values]) or 1
    plot_w = BAR_W - LABEL_W - VALUE_W
    row_h = len(series) * BAR_H + ROW_GAP
    legend_h = 18 if len(series) > 1 else 0
    height = legend_h + len(rows) * row_h + 4
    parts = [
        (
            f'<svg class="chart bars" viewBox="0 0 {BAR_W} {height}" role="img" '
            f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        )
    ]
    for n, (_key, label, colour) in enumerate(series if legend_h else []):
        x = LABEL_W + n * 100
        parts.append(
            f'<rect x="{x}" y="3" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="12" font-size="11" fill="currentColor">{escape(label)}</text>'
        )
    for i, (label, values) in enumerate(rows):
        y0 = legend_h + i * row_h + ROW_GAP / 2
        parts.append(
            f'<text x="{LABEL_W - 6}" y="{y0 + len(series) * BAR_H / 2 + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="currentColor">{escape(label)}</text>'
        )
        for j, ((key, name, colour), value) in enumerate(zip(series, values, strict=True)):
            w = plot_w * min(value or 0, top) / top
            y = y0 + j * BAR_H
            parts.append(
                f'<rect class="bar bar-{escape(key)}" x="{LABEL_W}" y="{y:.1f}" width="{max(w, 1):.1f}" '
                f'height="{BAR_H - 1}" fill="{colour}"><title>{escape(label)} · {escape(name)}: '
                f"{escape(shown(value))}</title></rect>"
                f'<text x="{LABEL_W + max(w, 1) + 3:.1f}" y="{y + BAR_H - 1:.1f}" font-size="9" '
                f'fill="currentColor">{escape(shown(value))}</text>'
            )
    if mark is not None:
        at = LABEL_W + plot_w * mark / top
        parts.append(
            f'<line class="limit" x1="{at:.1f}" y1="{legend_h}" x2="{at:.1f}" y2="{height}" '
            f'stroke="currentColor" stroke-dasharray="3 3" stroke-opacity=".7"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
