"""The Guide and Grammar sheets of a workbook: how to use and read it, and the grammar with its picture.

The picture is Graphviz's PNG of the grammar, inserted when ``dot`` is installed (the bytes of the workbook then
depend on the Graphviz version); without Graphviz a line says how to add it.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Iterable, Sequence
from io import BytesIO

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from .dot_format import to_dot
from .draw import shown_grammar
from .errors import UserError
from .grammar import Grammar
from .model import Model, stored_grammar
from .reading import Reading
from .sheet_charts import CHART_STEPS
from .sheet_formats import Formats, print_setup
from .sheet_input import marker_hint, typed_input
from .sheet_layout import (SheetWriter, answer_kinds, fitting_width, left_behind, numbered_units, unit_labels,
                           wrapped_height)
from .words import format_word

__all__ = ["CELL_GUIDE", "GUIDE_LINE", "PICTURE_EDGES", "PICTURE_SECONDS", "PICTURE_WIDTH", "WRAP_LINE",
           "grammar_picture", "missing_picture", "proof_guide", "write_grammar", "write_guide"]

CELL_GUIDE = {
    "lstm": ["i, f, g, o: the input gate, forget gate, candidate and output gate of every unit (as in nn.LSTM).",
             "c: the cell state, c = f * c(previous step) + i * g.   h: the unit's output, h = o * TANH(c)."],
    "gru": ["r, z: the reset and update gates; n = TANH(input part + r * (recurrent part)) (as in nn.GRU).",
            "h: the unit's output, h = (1 - z) * n + z * h(previous step)."],
    "rnn": ["h: the unit's output, h = TANH(W_ih x + b_ih + W_hh h(previous step) + b_hh) (as in nn.RNN)."],
}
GUIDE_LINE = 100  # the width of the Guide column, in characters
WRAP_LINE = 115  # characters in one wrapped line of that column, as LibreOffice prints it
PICTURE_WIDTH = 640  # pixels at most, on the Grammar sheet
PICTURE_EDGES = 150  # more edges: no picture (Graphviz took 2 s for 160 edges, 32 s for 240, > 300 s for 440)
PICTURE_SECONDS = 20  # Graphviz's time limit for the picture


def _quoted(word: Sequence[str], model: Model) -> str:
    return "'" + format_word(word, model.alphabet) + "'" if word else "'' (the empty string)"


def _inner(word: Sequence[str], reading: Reading) -> tuple[str, ...] | None:
    """A word classifier's word without its markers, or None when a marker sits inside it."""
    try:
        return reading.strip(word)
    except UserError:
        return None


def _colours(model: Model, reading: Reading) -> str:
    """The Run sheet's colours this model can show, as the legend lists them (``sheet_run``)."""
    kind = "word (its last row only)" if reading.final_only else "prefix"
    colours = f"green accept = accepted {kind}, pink = rejected, " if "accept" in model.heads else ""
    if any(h.startswith("state:") for h in model.heads):
        colours += "orange row = no state, "
    return colours


_COLUMN_GUIDE = {"state": "state: the states the network is in after the prefix ((none) when the string has left "
                          "the {place}).",
                 "accept": "accept: TRUE when the prefix is in the language.",
                 "next": "next: the symbols that may follow.",
                 "output": "output: the machine's output after the prefix ((none) when no out: head is true)."}
_ARGMAX_OUTPUT = "output: the machine's output after the prefix (the out: head with the largest logit)."
_HEAD_NAMES = {"state": "state:NAME", "accept": "accept", "next": "next:SYMBOL", "output": "out:VALUE"}


def _and(items: Iterable[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    listed = list(items)
    return " and ".join([", ".join(listed[:-1]), listed[-1]]) if len(listed) > 1 else "".join(listed)


def _verdict_guide(model: Model) -> str:
    """What the Run sheet's large sentence can say for this model (``sheet_run._verdict_formula``)."""
    kinds = answer_kinds(model)
    answer = "accepted, rejected" if "accept" in kinds else "the output after the last symbol" \
        if "output" in kinds else "how many symbols were read"
    leaving = f"the string leaves the {left_behind(model)}" if "state" in kinds else "it leaves the alphabet"
    return (f"The large sentence is the answer for the whole string: {answer}, or the step at which {leaving}; "
            "'no answer' when the string is longer than the sheet.")


def _columns_guide(model: Model) -> str:
    """The Run sheet's answer columns this model fills, and their names (the others stay empty)."""
    kinds = answer_kinds(model)
    if not kinds:
        return "The model has no heads to show: the answer columns stay empty."
    several = len(kinds) > 1
    missing = [k for k in ("state", "accept", "next") if k not in kinds]
    guide = {**_COLUMN_GUIDE, "output": _ARGMAX_OUTPUT} if model.argmax_outputs else _COLUMN_GUIDE
    text = " ".join(guide[k].format(place=left_behind(model)) for k in kinds) + (
        f" {'These columns carry the names' if several else 'This column carries the name'} "
        f"{_and(repr(k) for k in kinds)}.")
    if len(missing) == 1:
        plural = "" if missing[0] == "accept" else "s"
        text += f" The {missing[0]} column stays empty: the model has no {_HEAD_NAMES[missing[0]]} head{plural}."
    elif missing:
        text += f" The {_and(missing)} columns stay empty: the model has no heads for them."
    return text


def _heads_guide(model: Model) -> str:
    """Which heads give the Run sheet's answers, and how an argmax reading's out: heads are read."""
    names = [_HEAD_NAMES[k] for k in answer_kinds(model)]
    text = f" The answers above come from the head{'s' * (len(names) > 1)} {_and(names)}." if names else ""
    if model.argmax_outputs:
        text += (" The out:VALUE heads are read together, as a network trained with softmax cross-entropy: the "
                 "output is the head with the largest logit, whatever its sign ((none) on a tie), and none at t = 0, "
                 "before the first symbol.")
    return text


def write_guide(sh: SheetWriter, model: Model, steps: int, reading: Reading, examples: list[tuple[str, ...]],
                leaving: tuple[str, ...] | None, fmt: Formats) -> None:
    """How to use the workbook and how to read every sheet, wrapped to the page: typing as the Run sheet reads
    it (``reading``: a word classifier's markers are added for the person)."""
    trained = "trained" in model.extra
    framed, typed = bool(reading.start or reading.end), typed_input(model, reading)
    alphabet = reading.inner(model.alphabet) if framed else model.alphabet
    lines: list[tuple[str, object]] = [
        ("How to use this workbook", fmt.title),
        (f"It runs a recurrent network (PyTorch nn.{model.cell.upper()} layout, {len(model.layers)} layer(s), "
         f"{model.hidden_size} units) with spreadsheet formulas. Every number follows what you type and the "
         "weights; the file also stores the values for the input it was written with, so viewers that do not "
         "recalculate show them too.", fmt.wrap),
        ("What to type", fmt.heading),
        ("On the Run sheet, type a string into the yellow cell B2 (named 'input'). It is a text cell, so '0110' "
         "stays 0110. " + ("Type the symbols without spaces. " if typed.unspaced
                           else "Separate the symbols with spaces. ")
         + "The alphabet is " + " ".join(alphabet) + ". " + (marker_hint(reading) + " " if framed else "")
         + f"The sheet has {steps} steps; a longer string is cut, a note says so, and the verdict gives no answer.",
         fmt.wrap),
    ]
    if framed:  # as a person types them: the inner word, without spaces where Run reads it so
        inner = (_inner(w, reading) for w in examples)
        shown = ["'" + typed.typed(w) + "'" if w else "'' (the empty word)" for w in inner if w is not None]
        leaving = None  # a word classifier's words do not leave its grammar before the end marker
    else:
        shown = [_quoted(w, model) for w in examples]
    if shown:
        lines.append(("Strings of the language (accepted): " + ", ".join(shown) + ".", fmt.wrap))
    if leaving:
        lines.append((f"A string that leaves the grammar: {_quoted(leaving, model)} (at step {len(leaving)}, "
                      "no edge reads its last symbol).", fmt.wrap))
    lines += [
        ("How to read the Run sheet", fmt.heading),
        (_verdict_guide(model) + " Below it, one row per step t: row t = 0 is the empty prefix, before any "
         "symbol; row t is the prefix of the first t symbols." + (
             " This network is a word classifier: only its answer after the whole word counts (the last row of the "
             "word, after its end marker when it has one); the rows before show its heads inside the word, which it "
             "was not trained to give." if reading.final_only else ""), fmt.wrap),
        (_columns_guide(model), fmt.wrap),
        ("Colours: " + _colours(model, reading) + "red symbol = not in "
         "the alphabet (the network reads it as all zeros). The charts show h (and c) of every unit and the head "
         f"logits over the steps (the first {CHART_STEPS} at most); a head is true above the dashed line at 0. Past "
         "the end of the input the lines fall to 0.", fmt.wrap),
        ("How the network answers", fmt.heading),
        ("A head is a weighted sum of the last layer's outputs h (its logit); it is true when its logit is > 0."
         + _heads_guide(model), fmt.wrap),
        ("How to read the Trace sheet", fmt.heading),
        ("One row per step, as on Run. one-hot input: 1 under the symbol read at this step.", fmt.wrap),
        *((text, fmt.wrap) for text in CELL_GUIDE[model.cell]),
        ("The sigmoid is written (1+TANH(z/2))/2, which never overflows. Colours: gates go from white (0) to blue "
         "(1); c, g, n and h from red (-1) through white to blue (+1); head logits from red (false) to green "
         "(true). Values under 0.001 are shown as 1.0E-05 and the like.", fmt.wrap),
        ("Units", fmt.heading),
    ]
    imported = model.extra.get("imported")
    if trained or imported is not None or stored_grammar(model) is None:
        origin = "trained" if trained else "imported (fsm-lstm import)" if imported is not None else \
            "not compiled from a grammar"
        numbered = numbered_units(model)
        lines.append((f"This network was {origin}, so its units have no meaning given in advance"
                      + ("; they are labelled by number" if numbered else "") + ". Its states are not its own: if a "
                      "grammar was extracted from it (fsm-lstm extract), the states named here come from that "
                      "extraction.", fmt.wrap))
        lines += [(text, fmt.wrap) for text in _import_lines(imported)]
    else:
        lines.append(("A compiled network has one unit per grammar edge ('edge p -a-> q' is on after the string "
                      "has just crossed that edge) and a unit 'started' (on from the first symbol). The Grammar "
                      "sheet lists the edges.", fmt.wrap))
    lines.append(("The Weights sheet holds every weight; change any number and the Run and Trace sheets follow.",
                  fmt.wrap))
    lines += [(text, fmt.heading if heading else fmt.wrap) for text, heading in proof_guide(model)]
    for r, (text, style) in enumerate(lines, start=1):
        sh.text(r, 1, text, style)
        if style is fmt.wrap:  # spreadsheets do not size wrapped rows on load: give each its lines
            sh.ws.set_row(r - 1, wrapped_height(text, WRAP_LINE) + 2)
    sh.ws.set_column(0, 0, GUIDE_LINE)
    print_setup(sh.ws, pages_tall=1)


def _clean(value: object, limit: int) -> str:
    """Text from the model's meta (untrusted), without the characters a workbook cannot hold, cut to ``limit``."""
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))[:limit]


def _import_lines(imported: object) -> list[str]:
    """What the import did to the source's weights (its notes: an embedding folded into weight_ih, Linears composed,
    two outputs read as one head, ...), so that the Weights sheet is not read as the source's own matrices."""
    if not isinstance(imported, dict):
        return []
    notes = imported.get("notes")
    notes = [_clean(n, 300) for n in notes[:12] if isinstance(n, str)] if isinstance(notes, list) else []
    form = imported.get("format")
    source = f"It was read from {_clean(form, 300) if isinstance(form, str) else 'another framework'}"
    folded = " The Weights sheet shows the weights as fsm-lstm runs them, which may differ from the source's own "
    folded += "matrices where a note below says so (an embedding folded into weight_ih, two Linears composed)."
    return [source + "." + folded, *(f"Import note: {n}" for n in notes)]


def proof_guide(model: Model) -> list[tuple[str, bool]]:
    """(text, is heading) lines for a model without a compiled grammar: which kind of proof its file records
    (compiled models are covered by the compiled certificate the Units section describes)."""
    if stored_grammar(model) is not None:
        return []
    proof = model.extra.get("proof")
    if isinstance(proof, dict) and proof.get("method") == "regions" and proof.get("proven") is True:
        said = (f"When it was trained (fsm-lstm train --certify), the region proof held against grammar "
                f"{_clean(proof.get('grammar'), 200)!r}: {_clean(proof.get('summary'), 200)}.")
    else:
        said = ("The file records no proof: networks that were trained or imported are proven only by the region "
                "proof.")
    again = "fsm-lstm certify MODEL --grammar G checks a trained network for every length again (docs/region-proof.md)."
    return [("Proof", True), (said, False), (again, False)]


def grammar_picture(g: Grammar) -> bytes | None:
    """Graphviz's PNG of the grammar, or None when it has more than PICTURE_EDGES edges, Graphviz is not
    installed, fails, or takes more than PICTURE_SECONDS (its layout time grows steeply with the edges)."""
    exe = shutil.which("dot")
    if exe is None or len(g.transitions) > PICTURE_EDGES:
        return None
    try:
        done = subprocess.run([exe, "-Tpng", "-Gdpi=72"], input=to_dot(shown_grammar(g), complete=False,
                                                                       picture=True).encode(),
                              capture_output=True, check=False, timeout=PICTURE_SECONDS)
    except subprocess.TimeoutExpired:
        return None
    return done.stdout if done.returncode == 0 and done.stdout.startswith(b"\x89PNG") else None


def missing_picture(g: Grammar) -> str:
    """Why the Grammar sheet has no picture, and how to get one."""
    if len(g.transitions) > PICTURE_EDGES:
        return (f"No picture: {len(g.transitions):,} edges are too many to draw here (at most {PICTURE_EDGES}); "
                "fsm-lstm draw GRAMMAR -o FILE.svg draws it.")
    if shutil.which("dot") is None:
        return "Install Graphviz (apt-get install graphviz) and write the workbook again to see a picture of the " \
               "grammar here."
    return f"No picture: Graphviz did not draw the grammar within {PICTURE_SECONDS} s."


def _grammar_table(g: Grammar) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The Grammar sheet's transition table as text: its header (the symbols, then "output" for a Moore machine)
    and one row per state (the state with its marks, then a cell per column: next state(s), a Mealy edge's
    output after its target, a Moore state's output)."""
    moore, mealy = dict(g.state_outputs), dict(g.edge_outputs)  # a machine's outputs (trial 108: not shown)
    header = [*g.alphabet, *(["output"] if moore else [])]
    rows = []
    for s in g.states:
        marks = ("-> " if s == g.start else "") + s + (" (accept)" if s in g.accept else "")
        targets: dict[str, list[str]] = {}
        for b, q in g.out_edges[s]:
            targets.setdefault(b, []).append(q + (f" / {mealy[(s, b, q)]}" if (s, b, q) in mealy else ""))
        rows.append((marks, [" ".join(targets.get(a, ())) for a in g.alphabet] + ([moore.get(s, "")] if moore else [])))
    return header, rows


def write_grammar(sh: SheetWriter, model: Model, g: Grammar | None, fmt: Formats) -> None:
    """The grammar (name, description, transition table, picture), then the units and heads."""
    sh.text(1, 1, "Grammar", fmt.title)
    r = 3
    table_width = 2
    widths = [22, 22]  # columns A and B: the keys and states, the values and the first column of the table
    if g is not None:
        header, rows = _grammar_table(g)
        table_width = 1 + len(header)
        # each column of the table as wide as its longest cell (an edge's "closed / CONCLOSED" printed cut)
        fitted = [fitting_width([header[j], *(cells[j] for _, cells in rows)], 10, 40) for j in range(len(header))]
        widths = [22, max(22, fitted[0]), *fitted[1:]]
        for key, value in [("name", g.name), ("description", g.description), ("start", g.start),
                           ("accepting", " ".join(s for s in g.states if s in g.accept)),
                           ("alphabet", " ".join(g.alphabet))]:
            sh.text(r, 1, key, fmt.label)
            across = sum(widths[1:table_width])
            if key == "description" and len(value) > across:  # wrapped over the table's width, not under the picture
                sh.wrapped_text(r, 2, table_width, value, fmt.wrap, across)
            else:
                sh.text(r, 2, value)
            r += 1
        r += 1
        cell = "next state(s)" + (" / output of the edge" if g.edge_outputs else "")
        sh.text(r, 1, f"transition table: row = state, column = symbol, cell = {cell}", fmt.bold)
        r += 1
        for j, text in enumerate(header):
            sh.text(r, 2 + j, text, fmt.header)
        for marks, cells in rows:
            r += 1
            sh.text(r, 1, marks, fmt.bold)
            for j, text in enumerate(cells):
                sh.text(r, 2 + j, text, fmt.answer)
        r += 2
        picture = grammar_picture(g)
        if picture is not None:
            width, height = struct.unpack(">II", picture[16:24])
            scale = min(1.0, PICTURE_WIDTH / max(width, 1), 420 / max(height, 1))
            sh.ws.insert_image(2, table_width + 1, "grammar.png", {"image_data": BytesIO(picture),
                                                                   "x_scale": scale, "y_scale": scale,
                                                                   "object_position": 3})
        else:
            sh.text(2, table_width + 2, missing_picture(g), fmt.note)
    else:
        sh.text(r, 1, "This model carries no grammar (trained or imported): its units have no edge labels.")
        r += 2
    sh.text(r, 1, "units", fmt.bold)
    for u, label in enumerate(unit_labels(model, len(model.layers) - 1)):
        sh.text(r + 1 + u, 1, f"u{u}")
        sh.text(r + 1 + u, 2, label)
    sh.text(r, 4, "heads", fmt.bold)
    for m, label in enumerate(model.heads):
        sh.text(r + 1 + m, 4, label)
    for c, width in enumerate(widths):
        sh.ws.set_column(c, c, width)
    print_setup(sh.ws)
