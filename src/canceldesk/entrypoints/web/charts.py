"""Charts as server-rendered inline SVG: no JavaScript library, printable, readable by a screen
reader (role="img" with a title; every chart also has its numbers in a table beside it)."""
from __future__ import annotations

from markupsafe import Markup, escape

PALETTE = ("#1f6feb", "#f0883e", "#8957e5")


def _fmt(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def hbars(rows: list[tuple[str, list[float | None]]], title: str, series: list[str] | None = None,
          width: int = 440) -> Markup:
    """Horizontal bars, one group per row, one bar per series value."""
    series = series or [""]
    n = len(series)
    bar_h, gap, label_w, value_w = 16, 10, 120, 48
    group_h = n * bar_h + gap
    legend_h = 22 if n > 1 else 0
    height = legend_h + max(1, len(rows)) * group_h + 6
    top = max([v for _, vals in rows for v in vals if v is not None] or [0]) or 1
    plot_w = width - label_w - value_w
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    if n > 1:
        x = label_w
        for i, name in enumerate(series):
            out.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{PALETTE[i % 3]}"/>'
                       f'<text x="{x + 16}" y="14" class="chart-text">{escape(name)}</text>')
            x += 24 + 8 * len(name) + 20
    for r, (label, vals) in enumerate(rows):
        y0 = legend_h + r * group_h
        out.append(f'<text x="{label_w - 8}" y="{y0 + n * bar_h / 2 + 4}" text-anchor="end" '
                   f'class="chart-text">{escape(label)}</text>')
        for i, v in enumerate(vals):
            w = 0 if v is None else max(1 if v else 0, plot_w * float(v) / top)
            y = y0 + i * bar_h
            out.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{PALETTE[i % 3]}" rx="2"/>'
                       f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 4}" class="chart-text">{_fmt(v)}</text>')
    if not rows:
        out.append(f'<text x="{label_w}" y="{legend_h + 16}" class="chart-text">—</text>')
    out.append("</svg>")
    return Markup("".join(out))


def columns(rows: list[tuple[str, float]], title: str, width: int = 480, height: int = 200,
            series_b: list[float | None] | None = None) -> Markup:
    """Vertical columns over days (a second series, if given, is drawn as a thinner column)."""
    left, bottom, top_pad = 34, 34, 12
    plot_w, plot_h = width - left - 6, height - bottom - top_pad
    values = [v for _, v in rows] + [v for v in (series_b or []) if v is not None]
    top = max(values or [0]) or 1
    n = max(1, len(rows))
    step = plot_w / n
    every = max(1, n // 8)
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
           f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - 4}" y2="{top_pad + plot_h}" stroke="#8b949e"/>',
           f'<text x="{left - 4}" y="{top_pad + 4}" text-anchor="end" class="chart-text">{_fmt(top)}</text>',
           f'<text x="{left - 4}" y="{top_pad + plot_h}" text-anchor="end" class="chart-text">0</text>']
    for i, (label, v) in enumerate(rows):
        x = left + i * step
        h = plot_h * float(v) / top
        bw = max(1.0, step * (0.45 if series_b is not None else 0.7))
        out.append(f'<rect x="{x + step * 0.15:.1f}" y="{top_pad + plot_h - h:.1f}" width="{bw:.1f}" height="{h:.1f}" '
                   f'fill="{PALETTE[0]}"><title>{escape(label)}: {_fmt(v)}</title></rect>')
        if series_b is not None and series_b[i] is not None:
            hb = plot_h * float(series_b[i]) / top
            out.append(f'<rect x="{x + step * 0.15 + bw:.1f}" y="{top_pad + plot_h - hb:.1f}" width="{bw:.1f}" '
                       f'height="{hb:.1f}" fill="{PALETTE[1]}"><title>{escape(label)}: {_fmt(series_b[i])}</title></rect>')
        if i % every == 0:
            out.append(f'<text x="{x + step / 2:.1f}" y="{height - 12}" text-anchor="middle" '
                       f'class="chart-text">{escape(label[5:] if len(label) == 10 else label)}</text>')
    out.append("</svg>")
    return Markup("".join(out))
