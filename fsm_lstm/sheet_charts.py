"""Live line charts on the Run sheet, drawn from the Trace ranges (standard chart XML, so Excel and LibreOffice
both draw them, and both redraw them when the input changes): h and c of every unit of the last layer over the
steps, and the head logits with the decision threshold at 0. They plot the first CHART_STEPS steps at most:
longer lines are unreadable, and slow every spreadsheet that loads them; the Trace sheet holds every step."""

from __future__ import annotations

from .model import Model

__all__ = ["CHART_ROW", "CHART_ROWS", "CHART_SIZE", "CHART_STEPS", "LEGEND_LIMIT", "MAX_SERIES", "add_charts",
           "chart_series"]

CHART_SIZE = (620, 250)  # pixels
CHART_STEPS = 200
LEGEND_LIMIT = 24  # more series than this: no legend (it would hide the lines)
MAX_SERIES = 255  # lines in one chart at most (the chart format's limit; the threshold line counts)


def chart_series(model: Model, lay) -> list[tuple[str, list[int], bool]]:
    """(title, Trace columns, threshold line) of each chart."""
    cols = lay.layers[-1]
    charts = [("h: hidden output of each unit", list(range(cols["h"][0], cols["h"][1] + 1)), False)]
    if "c" in cols:
        charts.append(("c: cell state of each unit", list(range(cols["c"][0], cols["c"][1] + 1)), False))
    charts.append(("head logits (true above 0)", list(range(lay.heads[0], lay.heads[1] + 1)), True))
    return charts


CHART_ROW = 7  # 0-based row of the first chart: under the header row, which every printed page repeats (a chart
# begun on that row printed a fragment of itself at the top of each page: trial 108)
CHART_ROWS = 13  # rows a chart takes


def add_charts(wb, ws, model: Model, lay, steps: int, first_row: int, column: int = 7) -> None:
    """Insert the charts into ``ws`` (the Run sheet), right of its table (from 0-based ``column`` on), one under
    the other. On a table longer than them, each chart ends a printed page (a page holds one whole whatever the
    height of the input's rows above; the head logits were cut in two: trial 108)."""
    r0, r1 = first_row - 1, first_row - 1 + min(steps, CHART_STEPS)  # 0-based rows of t = 0 .. steps
    label_row = first_row - 2  # Trace's row of unit and head labels
    series = chart_series(model, lay)
    for k, (title, columns, threshold) in enumerate(series):
        chart = wb.add_chart({"type": "line"})
        if len(columns) + threshold > MAX_SERIES:
            title = f"{title}, the first {MAX_SERIES - threshold} of {len(columns)}"
            columns = columns[:MAX_SERIES - threshold]
        for c in columns:
            chart.add_series({"name": ["Trace", label_row, c - 1], "categories": ["Trace", r0, 0, r1, 0],
                              "values": ["Trace", r0, c - 1, r1, c - 1], "line": {"width": 1.25}})
        if threshold:
            chart.add_series({"name": ["Trace", label_row, lay.zero - 1], "categories": ["Trace", r0, 0, r1, 0],
                              "values": ["Trace", r0, lay.zero - 1, r1, lay.zero - 1],
                              "line": {"color": "black", "width": 1.5, "dash_type": "dash"}})
        chart.set_title({"name": title, "name_font": {"size": 10, "bold": True}})
        chart.set_x_axis({"name": "step t", "name_font": {"size": 8}, "num_font": {"size": 7},
                          "label_position": "low"})
        chart.set_y_axis({"num_font": {"size": 7}, "major_gridlines": {"visible": True,
                                                                       "line": {"color": "#E0E0E0"}}})
        if len(columns) + threshold > LEGEND_LIMIT:
            chart.set_legend({"none": True})
        else:
            chart.set_legend({"position": "right", "font": {"size": 7}})
        chart.set_size({"width": CHART_SIZE[0], "height": CHART_SIZE[1]})
        ws.insert_chart(CHART_ROW + k * CHART_ROWS, column, chart, {"object_position": 3})
    if first_row + steps > CHART_ROW + len(series) * CHART_ROWS:
        ws.set_h_pagebreaks([CHART_ROW + (k + 1) * CHART_ROWS for k in range(len(series))])
