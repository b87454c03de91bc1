"""Box-and-arrow diagrams drawn with plotly, for the course's pictures of architectures (not graded).

The one drawing helper behind ``coursekit/assignments/<short>/pictures.py`` (03, 04, 05, 09). A
``Diagram`` is plain data: named boxes (centre, size, text, kind) and arrows (a polyline of points).
``draw(fig, row, col)`` puts it on one subplot of a plotly figure as shapes and annotations, so a
picture can sit next to a computed panel (a heat map, a plot) in the same figure. Nothing here is
an image from elsewhere: every picture is made by this code.

Coordinates are data units of a hidden axis; y grows upwards. Box colours come from ``KINDS``, one
colour per kind of part (norm, attention, MLP, ...), the same in every picture of the course.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import plotly.graph_objects as go

# kind of part -> fill colour (one palette for every picture)
KINDS = {
    "tokens": "#e8eef7",      # token sequences going in or out
    "norm": "#eeeeee",        # LayerNorm / RMSNorm
    "attention": "#c9dcf5",   # self- or cross-attention
    "mlp": "#cdebd3",         # feed-forward layers
    "condition": "#fbe1c4",   # conditioning inputs and their embeddings
    "modulation": "#e3d4f2",  # shift / scale / gate (adaLN)
    "op": "#ffffff",          # + and x nodes
    "note": "#fffbe6",        # a remark inside the picture
}


@dataclass
class Box:
    x: float
    y: float
    w: float
    h: float
    text: str
    kind: str

    def top(self) -> tuple[float, float]:
        return self.x, self.y + self.h / 2

    def bottom(self) -> tuple[float, float]:
        return self.x, self.y - self.h / 2

    def left(self) -> tuple[float, float]:
        return self.x - self.w / 2, self.y

    def right(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y


@dataclass
class Arrow:
    points: list[tuple[float, float]]
    text: str = ""
    dash: str = "solid"
    color: str = "#555555"


@dataclass
class Diagram:
    """Named boxes and arrows; ``texts()`` lists every label (what tests read)."""

    boxes: dict[str, Box] = field(default_factory=dict)
    arrows: list[Arrow] = field(default_factory=list)
    labels: list[tuple[float, float, str]] = field(default_factory=list)

    def box(self, key: str, x: float, y: float, text: str, kind: str = "tokens", w: float = 2.0,
            h: float = 0.5) -> Box:
        if kind not in KINDS:
            raise ValueError(f"kind: expected one of {sorted(KINDS)}, got {kind!r}")
        if key in self.boxes:
            raise ValueError(f"box {key!r} is drawn twice")
        self.boxes[key] = Box(x, y, w, h, text, kind)
        return self.boxes[key]

    def op(self, key: str, x: float, y: float, symbol: str = "+") -> Box:
        """A small round node: ``+`` (residual sum) or ``×`` (gate)."""
        return self.box(key, x, y, symbol, kind="op", w=0.36, h=0.36)

    def arrow(self, *points, text: str = "", dash: str = "solid", color: str = "#555555") -> None:
        """An arrow through points (x, y) or box keys (a key means: leave/enter that box on the
        side facing the neighbouring point); the head is at the last point."""
        if len(points) < 2:
            raise ValueError("arrow: expected at least two points")
        centre = [(self.boxes[p].x, self.boxes[p].y) if isinstance(p, str) else p for p in points]
        xy = [self._edge(p, centre[i - 1] if i else centre[1]) if isinstance(p, str) else p
              for i, p in enumerate(points)]
        self.arrows.append(Arrow(xy, text, dash, color))

    def residual(self, start: str, parts: list[tuple[str, str, str]], dy: float = 0.75, skip_dx: float = -1.6,
                 prefix: str = "") -> str:
        """A residual branch drawn upwards from box ``start``: the parts (key, text, kind) in a column
        above it, then a ``+`` node where the skip from ``start`` joins again. Kind "op" draws a small
        round node (e.g. a gate ``×``). Returns the key of the ``+`` node."""
        b = self.boxes[start]
        x, y = b.top()
        prev = start
        for i, (key, text, kind) in enumerate(parts, start=1):
            if kind == "op":
                self.op(prefix + key, x, y + i * dy, text)
            else:
                self.box(prefix + key, x, y + i * dy, text, kind)
            self.arrow(prev, prefix + key)
            prev = prefix + key
        plus = self.op(prefix + "add", x, y + (len(parts) + 1) * dy, "+")
        self.arrow(prev, prefix + "add")
        fork = (x, y + 0.2 * dy)
        self.arrow(fork, (x + skip_dx, fork[1]), (x + skip_dx, plus.y), plus.left() if skip_dx < 0 else plus.right())
        return prefix + "add"

    def label(self, x: float, y: float, text: str) -> None:
        self.labels.append((x, y, text))

    def texts(self) -> list[str]:
        return [b.text for b in self.boxes.values()] + [a.text for a in self.arrows if a.text] \
            + [t for _, _, t in self.labels]

    def _edge(self, key: str, toward: tuple[float, float]) -> tuple[float, float]:
        b = self.boxes[key]
        dx, dy = toward[0] - b.x, toward[1] - b.y
        if abs(dy) * b.w >= abs(dx) * b.h:          # leaves through the top or the bottom
            return b.top() if dy > 0 else b.bottom()
        return b.right() if dx > 0 else b.left()

    def extent(self, margin: float = 0.3) -> tuple[tuple[float, float], tuple[float, float]]:
        xs = [b.x + s * b.w / 2 for b in self.boxes.values() for s in (-1, 1)] + [x for x, _, _ in self.labels]
        ys = [b.y + s * b.h / 2 for b in self.boxes.values() for s in (-1, 1)] + [y for _, y, _ in self.labels]
        for a in self.arrows:
            xs += [x for x, _ in a.points]
            ys += [y for _, y in a.points]
        return (min(xs) - margin, max(xs) + margin), (min(ys) - margin, max(ys) + margin)

    def draw(self, fig: go.Figure, row: int | None = None, col: int | None = None, font_size: int = 11) -> go.Figure:
        """Add the diagram to ``fig`` (on subplot row, col if given) and hide that subplot's axes."""
        sub = fig.get_subplot(row, col) if row is not None else None
        xref = "x" if sub is None else sub.xaxis.plotly_name.replace("axis", "")
        yref = "y" if sub is None else sub.yaxis.plotly_name.replace("axis", "")
        shapes, notes = [], []                      # plain dicts, added in one go (add_shape per item is slow)
        for a in self.arrows:
            for (x0, y0), (x1, y1) in zip(a.points[:-2], a.points[1:-1]):
                shapes.append(dict(type="line", x0=x0, y0=y0, x1=x1, y1=y1, xref=xref, yref=yref,
                                   line=dict(color=a.color, width=1.4, dash=a.dash)))
            (x0, y0), (x1, y1) = a.points[-2], a.points[-1]
            notes.append(dict(x=x1, y=y1, ax=x0, ay=y0, xref=xref, yref=yref, axref=xref, ayref=yref, text="",
                              showarrow=True, arrowhead=2, arrowsize=1.1, arrowwidth=1.4, arrowcolor=a.color,
                              standoff=0, startstandoff=0))
            if a.text:
                notes.append(dict(x=(x0 + x1) / 2, y=(y0 + y1) / 2, xref=xref, yref=yref, text=a.text,
                                  showarrow=False, font=dict(size=font_size - 1, color="#333333"),
                                  bgcolor="rgba(255,255,255,0.85)"))
        for b in self.boxes.values():
            shapes.append(dict(type="circle" if b.kind == "op" else "rect", x0=b.x - b.w / 2, x1=b.x + b.w / 2,
                               y0=b.y - b.h / 2, y1=b.y + b.h / 2, xref=xref, yref=yref, fillcolor=KINDS[b.kind],
                               line=dict(color="#444444", width=1), layer="above"))
            notes.append(dict(x=b.x, y=b.y, xref=xref, yref=yref, text=b.text, showarrow=False,
                              font=dict(size=font_size + (3 if b.kind == "op" else 0), color="#111111")))
        for x, y, text in self.labels:
            notes.append(dict(x=x, y=y, xref=xref, yref=yref, text=text, showarrow=False,
                              font=dict(size=font_size - 1, color="#333333"), align="left"))
        fig.update_layout(shapes=[old.to_plotly_json() for old in fig.layout.shapes] + shapes,
                          annotations=[old.to_plotly_json() for old in fig.layout.annotations] + notes)
        (x0, x1), (y0, y1) = self.extent()
        axis = dict(visible=False, showgrid=False, zeroline=False)
        fig.update_xaxes(range=[x0, x1], row=row, col=col, **axis)
        fig.update_yaxes(range=[y0, y1], row=row, col=col, **axis)
        return fig

    def figure(self, title: str, caption: str, width: int = 760, height: int = 560) -> go.Figure:
        """The diagram alone, as a figure."""
        fig = go.Figure()
        self.draw(fig)
        return finish(fig, title, caption, width, height, top=50, bottom=70)


def finish(fig: go.Figure, title: str, caption: str, width: int, height: int, caption_y: float = -0.05,
           top: int = 90, bottom: int = 100, left: int = 10) -> go.Figure:
    """The course's picture layout: a title, a white plot area, no legend, and a left-aligned caption under
    the plot area (what the picture simplifies, where it comes from; ``<br>`` breaks a line)."""
    fig.update_layout(width=width, height=height, plot_bgcolor="white", showlegend=False,
                      margin=dict(l=left, r=10, t=top, b=bottom), title=dict(text=title, y=0.97))
    fig.add_annotation(x=0, y=caption_y, xref="paper", yref="paper", showarrow=False, align="left", xanchor="left",
                       yanchor="top", font=dict(size=10, color="#333333"), text=caption)
    return fig


def figure_texts(fig: go.Figure) -> list[str]:
    """Every text shown by a figure's annotations (what a learner reads in the picture)."""
    return [a.text for a in fig.layout.annotations if a.text]
