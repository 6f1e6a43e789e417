"""The cell formats of a workbook, made once per XlsxWriter workbook: number formats suited to the value,
headers aligned with their numbers, and the colours the Run sheet's legend explains."""

from __future__ import annotations

__all__ = ["Formats", "INPUT_POINTS", "INPUT_YELLOW", "MAX_ROW_POINTS", "print_setup"]

INPUT_YELLOW = "#FFF2CC"
INPUT_POINTS = 12  # the input cell's font size
MAX_ROW_POINTS = 409  # Excel's tallest row (an input of about 650 symbols; the Trace sheet shows them all)


class Formats:
    """Named XlsxWriter formats of one workbook."""

    def __init__(self, wb) -> None:
        add = wb.add_format
        self.title = add({"bold": True, "font_size": 14})
        self.bold = add({"bold": True})
        self.right = add({"align": "right"})
        self.note = add({"italic": True, "font_color": "#595959", "text_wrap": True, "valign": "top"})
        self.hidden = add({"num_format": ";;;"})  # a helper cell whose value shows elsewhere
        self.caption = add({"italic": True, "font_color": "#595959"})
        self.small = add({"font_size": 9, "valign": "vcenter"})
        self.wrap = add({"text_wrap": True, "valign": "top"})
        self.label = add({"bold": True, "valign": "top"})  # beside a wrapped text, level with its first line
        self.heading = add({"bold": True, "font_size": 12})
        self.warning_wrap = add({"bold": True, "font_color": "#C00000", "text_wrap": True, "valign": "top"})
        self.agreeing_wrap = add({"bold": True, "font_color": "#006100", "text_wrap": True, "valign": "top"})
        self.verdict = add({"bold": True, "font_size": 16, "font_color": "#1F3864", "text_wrap": True, "valign": "top"})
        self.input = add({"num_format": "@", "bg_color": INPUT_YELLOW, "border": 1, "font_size": INPUT_POINTS,
                          "locked": False, "text_wrap": True, "valign": "top"})  # a long input is shown whole
        self.header = add({"bold": True, "align": "center", "valign": "bottom", "bottom": 1, "text_wrap": True})
        self.block = add({"bold": True, "align": "center", "bg_color": "#EDEDED", "border": 1})
        self.rotated = add({"rotation": 90, "align": "center", "valign": "bottom", "font_size": 9, "bottom": 1})
        self.step = add({"align": "center", "font_color": "#595959"})
        self.symbol = add({"align": "center", "bold": True})
        self.onehot = add({"align": "center", "num_format": "0"})
        self.value = add({"align": "center", "num_format": "0.000"})
        self.weight = add({"num_format": "0.0000"})
        self.answer = add({"align": "center"})
        # a boolean answer: LibreOffice opening the file showed a formula's cached boolean as 1 or 0 (Excel and
        # Gnumeric show TRUE or FALSE whatever the format); text cells keep ``answer``, so a number typed there
        # stays a number
        self.truth = add({"align": "center", "num_format": '"TRUE";"TRUE";"FALSE"'})
        # conditional formats: only what they change
        self.tiny = add({"num_format": "0.0E+00"})
        self.accepted = add({"bg_color": "#C6EFCE", "font_color": "#006100"})
        self.rejected = add({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
        self.left_row = add({"bg_color": "#FCE4D6"})
        self.marker = add({"bg_color": "#D9D9D9", "italic": True})
        self.bad_symbol = add({"bg_color": "#FF0000", "font_color": "#FFFFFF", "bold": True})
        # where network and automaton part: the sentence on row 6 and the first row that disagrees share it (the
        # row had bad_symbol's red, which the legend gives to symbols outside the alphabet: trial 108)
        self.parting = add({"bg_color": "#F4CCCC", "font_color": "#C00000", "bold": True})


def print_setup(ws, rows: tuple[int, int] | None = None, columns: tuple[int, int] | None = None,
                pages_wide: int = 1, pages_tall: int = 0) -> None:
    """Landscape, fit to the page width (or ``pages_wide`` pages; ``pages_tall`` 0 leaves the height free),
    header rows and step columns on every page, sheet name and page number."""
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(pages_wide, pages_tall)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    ws.set_footer("&L&A&R&P / &N")
    if rows:
        ws.repeat_rows(*rows)
    if columns:
        ws.repeat_columns(*columns)
