"""Charts drawn on the server as inline SVG: no script, no library, readable without CSS."""

from __future__ import annotations

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
