"""Loaded into every sandboxed grading kernel before the submission runs (standalone: no imports
from the course). It only affects how outputs are *displayed*, never a verdict:

- plotly figures are emitted as their JSON mime bundle (``PLOTLY_RENDERER=plotly_mimetype``, set by
  the sandbox); the feedback step turns them into offline HTML.
- ipywidgets (e.g. the course's slider panels around a plotly ``FigureWidget``) also publish a
  static snapshot: the figures they contain as plotly JSON, and their controls' values. A static
  page cannot run a widget, but it can show what the widget drew first.
"""
SNAPSHOT_MIME = "application/vnd.autograder.widget-snapshot+json"


def _snapshot(widget, depth=0):
    figures, controls = [], []
    try:
        from plotly.basewidget import BaseFigureWidget
    except Exception:  # plotly missing: nothing to draw
        BaseFigureWidget = ()
    if BaseFigureWidget and isinstance(widget, BaseFigureWidget):
        import json

        import plotly.graph_objects as go
        import plotly.io as pio
        figures.append(json.loads(pio.to_json(go.Figure(widget), validate=False)))
        return figures, controls
    if depth > 8:
        return figures, controls
    for child in getattr(widget, "children", ()) or ():
        f, c = _snapshot(child, depth + 1)
        figures += f
        controls += c
    description = getattr(widget, "description", None)
    if description and hasattr(widget, "value"):
        controls.append({"description": str(description), "value": repr(widget.value)[:80]})
    return figures, controls


def _widget_bundle(widget, include=None, exclude=None):
    bundle = widget._repr_mimebundle_(include=include, exclude=exclude) or {}
    if isinstance(bundle, tuple):
        bundle = bundle[0]
    try:
        figures, controls = _snapshot(widget)
        if figures or controls:
            bundle = dict(bundle)
            bundle[SNAPSHOT_MIME] = {"figures": figures, "controls": controls}
    except Exception:
        pass
    return bundle


def install():
    try:
        ip = get_ipython()  # noqa: F821 (defined in a kernel)
    except NameError:
        return
    formatter = ip.display_formatter.mimebundle_formatter
    formatter.for_type_by_name("ipywidgets.widgets.widget", "Widget", _widget_bundle)
