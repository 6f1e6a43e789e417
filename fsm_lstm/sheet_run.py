"""The Run sheet of a workbook, the one a person reads: the text-formatted input cell, one sentence that answers
for the whole string, one row of decoded answers per step (state, accept, next and, for models with ``out:``
heads, output), colours with a legend, and the place for the charts."""

from __future__ import annotations

import numpy as np

from .labels import parse_head
from .model import Model
from .reading import Reading
from .sheet_formats import INPUT_POINTS, MAX_ROW_POINTS, Formats, print_setup
from .sheet_input import marker_hint, typed_input
from .sheet_layout import (BOLD_PER_WIDTH, FIRST_STEP_ROW, ITALIC_PER_WIDTH, NAME_ROW, NONE, Computed, SheetWriter,
                           TraceLayout, answer_kinds, beyond_the_sheet, col, fitting_width, left_behind, output_value,
                           past_end, wrapped_height)

__all__ = ["decoded_outputs", "write_run"]


def _widths(model: Model) -> dict[int, int]:
    """The widths of columns A:F (0-based keys), in characters. A column no head fills (a word classifier's state
    and next) is left blank and narrower, not hidden: rows 2 and 3 use it."""
    shown = answer_kinds(model)
    outputs = [arg for kind, arg in map(parse_head, model.heads) if kind == "out"]
    states = [arg for kind, arg in map(parse_head, model.heads) if kind == "state"]
    nexts = [" ".join(arg for kind, arg in map(parse_head, model.heads) if kind == "next")]
    widths = {0: 6, 1: fitting_width(model.alphabet, 8, 24)}  # symbols as long as 'unsubscribe' were cut
    # long names ('waiting_for_client_hello_message') were cut at both ends of a centred cell 18 wide
    for c, key, width in ((2, "state", fitting_width(states, 18, 40)), (3, "accept", 8),
                          (4, "next", fitting_width(nexts, 18, 40))):
        widths[c] = width if key in shown else min(width, 13)
    widths[5] = fitting_width(outputs, 12, 40)
    return widths


def write_run(sh: SheetWriter, model: Model, lay: TraceLayout, v: Computed, steps: int, name: str,
              fmt: Formats, reading: Reading = Reading()) -> None:
    """The first sheet: the input, the verdict in one sentence, and one row of answers per step. A word
    classifier's markers are not typed: the network reads them around the input, on rows of their own."""
    ws = sh.ws
    typed = typed_input(model, reading)
    framed = typed.framed
    n = len(v.word)
    first = FIRST_STEP_ROW
    rc = lay.run
    width = 6  # the table spans A:F (F holds the length of the input, or the output column)
    sh.text(1, 1, f"{name}: type a string, read the network's answer", fmt.title)
    sh.text(2, 1, "input", fmt.bold)
    ws.merge_range(1, 1, 1, 3, "", fmt.input)
    shown_input = typed.typed(reading.strip(v.word))
    sh.text(2, 2, shown_input, fmt.input)
    room = BOLD_PER_WIDTH * sum(w for c, w in _widths(model).items() if 1 <= c <= 3) * 10 / INPUT_POINTS
    if len(shown_input) > room:  # printed, a longer input was cut at the cell's edge; a typed one sizes its row
        ws.set_row(1, min(MAX_ROW_POINTS, wrapped_height(shown_input, room, INPUT_POINTS)))
    sh.text(2, 5, "symbols read" if framed else "symbols", fmt.right)
    sh.formula(2, 6, typed.count_formula(), n, fmt.bold)
    ws.merge_range(2, 0, 2, width - 1, "", fmt.verdict)
    sh.formula(3, 1, _verdict_formula(model, lay, steps, framed), _verdict(model, lay, v), fmt.verdict)
    has = "The network reads {n} symbols (the word and its markers)" if framed else "The input has {n} symbols"
    notes = [(f"input_length>{steps}", f"{has}; this sheet shows the first {steps}. Make a "
              "longer one: fsm-lstm sheet MODEL -o BOOK.xlsx --steps N. ")]  # unknown symbols: in the legend
    inside = typed.inside_formula()
    if inside:
        notes.append((inside, "A marker typed inside the word is read there; fsm-lstm run refuses such a word."))
    ws.merge_range(3, 0, 3, width - 1, "", fmt.warning_wrap)
    live = '"&input_length&"'
    sh.formula(4, 1, "=" + "&".join(f'IF({test},"{text.format(n=live)}","")' for test, text in notes), "",
               fmt.warning_wrap)
    hint = ("Type the symbols without spaces" if typed.unspaced else "Type the symbols separated by spaces") + \
        f". Alphabet: {' '.join(reading.inner(model.alphabet) if framed else model.alphabet)}. Examples: see the " \
        "Guide sheet." + (" " + marker_hint(reading) if framed else "")
    ws.merge_range(4, 0, 4, width - 1, "", fmt.note)
    sh.text(5, 1, hint, fmt.note)
    table = sum(_widths(model).values())
    every_note = "".join(text.format(n=10 ** 6) for _, text in notes)  # room for all of them at once
    ws.set_row(3, wrapped_height(every_note, BOLD_PER_WIDTH * table))
    ws.set_row(4, wrapped_height(hint, ITALIC_PER_WIDTH * table))
    shown = answer_kinds(model)
    for key, c in rc.items():
        if key in ("t", "symbol") or key in shown:
            sh.text(7, c, key, fmt.header)
    acc = model.heads.index("accept") if "accept" in model.heads else None
    outs = [m for m, h in enumerate(model.heads) if output_value(h)]
    decoded = decoded_outputs(model, v.heads)  # the cached values of the output column
    for t in range(steps + 1):
        r = first + t
        live = t <= n
        guard = past_end(r)
        sh.number(r, rc["t"], t, fmt.step)
        if t:
            sh.formula(r, rc["symbol"], f"=Trace!B{r}", v.word[t - 1] if live else "", fmt.symbol)
        on = v.heads[t] > 0 if live else None
        for key in ("state", "next"):
            if key in shown:
                raw = f"Trace!{col(lay.decoded[key])}{r}"
                names = " ".join(h.partition(":")[2] for h, o in zip(model.heads, on)
                                 if o and parse_head(h)[0] == key) if live else ""
                sh.formula(r, rc[key], f'=IF({guard},"",IF({raw}="","{NONE}",{raw}))',
                           (names or NONE) if live else "", fmt.answer)
        if acc is not None:
            sh.formula(r, rc["accept"], f'=IF({guard},"",Trace!{col(lay.heads[0] + acc)}{r}>0)',
                       bool(on[acc]) if live else "", fmt.truth)
        if outs:  # an argmax reading: no output before the first symbol
            formula = f'=IF({guard},"","{NONE}")' if t == 0 and model.argmax_outputs else \
                _output_formula(lay, outs, r, guard, model.argmax_outputs)
            sh.formula(r, rc["output"], formula, decoded[t] if live else "", fmt.answer)
    _format_run(sh, model, lay, steps, fmt, reading)


def _output_formula(lay: TraceLayout, outs: list[int], r: int, guard: str, argmax: bool = False) -> str:
    """The decoded output: the value of the first out: head with the largest logit, if that logit is > 0, and
    " (+N more)" when N other out: heads are true as well (no machine gives two outputs at once, and ``verify``
    judges every head). ``argmax``: the out: head with the largest logit, whatever its sign, none on a tie."""
    cells = [f"Trace!{col(lay.heads[0] + m)}{r}" for m in outs]
    top = f"MAX({','.join(cells)})"
    if outs == list(range(outs[0], outs[-1] + 1)):  # one block of columns: INDEX and MATCH
        lo, hi = col(lay.heads[0] + outs[0]), col(lay.heads[0] + outs[-1])
        # INDEX(row, 1, k): Gnumeric reads INDEX(row, k) as row k of the range
        pick = f"INDEX(Trace!${lo}${NAME_ROW}:${hi}${NAME_ROW},1,MATCH({top},Trace!{lo}{r}:{hi}{r},0))"
        true = f'COUNTIF(Trace!{lo}{r}:{hi}{r},">0")'
    else:  # scattered heads: the first whose logit is the largest
        pick = f'"{NONE}"'
        for m, cell in reversed(list(zip(outs, cells))):
            pick = f"IF({cell}={top},Trace!{col(lay.heads[0] + m)}${NAME_ROW},{pick})"
        true = "+".join(f"({cell}>0)" for cell in cells)
    if argmax:
        ties = "+".join(f"({cell}={top})" for cell in cells)
        return f'=IF({guard},"",IF({ties}>1,"{NONE}",{pick}))'
    more = f'IF({true}>1," (+"&({true}-1)&" more)","")'
    return f'=IF({guard},"",IF({top}>0,{pick}&{more},"{NONE}"))'


def _output_value(model: Model, outs: list[int], logits: np.ndarray) -> str:
    best = outs[int(np.argmax(logits[outs]))]
    if model.argmax_outputs:  # a tie, or NaN (which the runtime's margins read as no output): none
        tied = (logits[outs] == logits[best]).sum() > 1 or np.isnan(logits[outs]).any()
        return NONE if tied else output_value(model.heads[best])
    if not logits[best] > 0:
        return NONE
    others = int((logits[outs] > 0).sum()) - 1
    return output_value(model.heads[best]) + (f" (+{others} more)" if others else "")


def decoded_outputs(model: Model, heads: np.ndarray) -> list[str] | None:
    """The decoded output column for (T+1, H) head logits, as its formulas compute it (None without out: heads;
    none before the first symbol for an argmax reading)."""
    outs = [m for m, h in enumerate(model.heads) if output_value(h)]
    if not outs:
        return None
    return [NONE if t == 0 and model.argmax_outputs else _output_value(model, outs, row) for t, row in enumerate(heads)]


def _verdict_formula(model: Model, lay: TraceLayout, steps: int, framed: bool = False) -> str:
    """One sentence: accepted, rejected, or where the string leaves the grammar."""
    first, last = FIRST_STEP_ROW, FIRST_STEP_ROW + steps
    stops = f"Trace!${col(lay.stop)}${first + 1}:${col(lay.stop)}${last}"
    k = f"MATCH(1,{stops},0)"
    where = f"leaves the {left_behind(model)}" if "state" in answer_kinds(model) else "leaves the alphabet"
    leaves = f'"{where} at step "&{k}&" (symbol "&INDEX($B${first + 1}:$B${last},{k})&")"'
    if "accept" in model.heads:
        end = (f'IF(INDEX($D${first}:$D${last},MIN(input_length,{steps})+1),"accepted","rejected")')
    elif "output" in lay.run:
        end = f'"output: "&INDEX($F${first}:$F${last},MIN(input_length,{steps})+1)'
    else:
        end = f'"read "&MIN(input_length,{steps})&" symbols (the model has no accept head)"'
    return f"=IF(ISNUMBER({k}),{leaves},IF(input_length>{steps},{beyond_the_sheet(steps, framed=framed)},{end}))"


def _verdict(model: Model, lay: TraceLayout, v: Computed) -> str:
    """What the verdict formula computes for the default input (always in the alphabet)."""
    state_heads = [m for m, h in enumerate(model.heads) if parse_head(h)[0] == "state"]
    for t in range(1, len(v.word) + 1):
        if state_heads and not (v.heads[t, state_heads] > 0).any():
            return f"leaves the {left_behind(model)} at step {t} (symbol {v.word[t - 1]})"
    if "accept" in model.heads:
        return "accepted" if v.heads[len(v.word), model.heads.index("accept")] > 0 else "rejected"
    outputs = decoded_outputs(model, v.heads)
    if outputs:
        return "output: " + outputs[len(v.word)]
    return f"read {len(v.word)} symbols (the model has no accept head)"


def _longest_verdicts(model: Model, steps: int) -> list[str]:
    """The longest sentences of each kind the verdict cell can show, for its row's height (a symbol typed outside
    the alphabet may be longer still)."""
    outputs = [value for value in map(output_value, model.heads) if value]
    return [beyond_the_sheet(steps, 10**6, framed=True), f"leaves the {left_behind(model)} at step {steps} (symbol "
            f"{max(model.alphabet, key=len)})", f"read {steps} symbols (the model has no accept head)",
            *([f"output: {max(outputs, key=len)} (+{len(outputs) - 1} more)"] if outputs else [])]


def _format_run(sh: SheetWriter, model: Model, lay: TraceLayout, steps: int, fmt: Formats, reading: Reading) -> None:
    ws = sh.ws
    first, last = FIRST_STEP_ROW, FIRST_STEP_ROW + steps
    rc = lay.run
    right = col(max(rc.values()))
    # first rule first: an unknown symbol stays red on a row that has left the grammar
    ws.conditional_format(f"B{first + 1}:B{last}", {
        "type": "formula", "criteria": f'=AND($B{first + 1}<>"",Trace!${col(lay.known)}{first + 1}=0)',
        "format": fmt.bad_symbol})
    ws.conditional_format(f"A{first}:{right}{last}", {
        "type": "formula", "criteria": f'=$C{first}="{NONE}"', "format": fmt.left_row})
    legend = [(fmt.input, "type the input here (text)")]
    if "accept" in model.heads:  # a Mealy or Moore machine has outputs, not accepted and rejected prefixes
        # a word classifier answers once, after the whole word: only that row is coloured (trial 104: its t = 0
        # row's TRUE, coloured, read as an answer)
        rows, kind = ("=", "word") if reading.final_only else ("<=", "prefix")
        # --nonempty: the empty word (the row after its markers alone) is not judged, and not coloured
        judged = f",$A{first}>{bool(reading.start) + bool(reading.end)}" if reading.nonempty else ""
        for value, swatch in (("TRUE", fmt.accepted), ("FALSE", fmt.rejected)):  # (a blank cell equals FALSE)
            ws.conditional_format(f"D{first}:D{last}", {
                "type": "formula", "criteria": f"=AND($A{first}{rows}$F$2,$D{first}={value}{judged})",
                "format": swatch})
        legend += [(fmt.accepted, f"accepted {kind}"), (fmt.rejected, f"rejected {kind}")]
    if "state" in answer_kinds(model):
        legend.append((fmt.left_row, f"no state: {NONE}, the string left the {left_behind(model)}"))
    legend.append((fmt.bad_symbol, "symbol not in the alphabet (read as an all-zero input)"))
    if reading.start or reading.end:  # the marker symbols: at t = 1 (start) and at the end
        r0 = first + 1
        rows = [f"$A{r0}=1"] * bool(reading.start) + [f"$A{r0}=input_length"] * bool(reading.end)
        ws.conditional_format(f"B{r0}:B{last}", {
            "type": "formula", "criteria": f"=AND($A{r0}<=input_length,OR({','.join(rows)}))", "format": fmt.marker})
        legend.append((fmt.marker, "a word marker, read by the network, not typed"))
    else:
        sh.text(1, 8, "colours", fmt.bold)
    for k, (swatch, text) in enumerate(legend):
        sh.text(2 + k - (len(legend) > 5), 8, "", swatch)
        sh.text(2 + k - (len(legend) > 5), 9, text, fmt.small)
    for c, width in _widths(model).items():
        ws.set_column(c, c, width)
    ws.set_column(6, 6, 2)
    ws.set_column(7, 7, 3)
    ws.set_row(2, max(wrapped_height(v, BOLD_PER_WIDTH * sum(_widths(model).values()) * 10 / 16, 16)
                      for v in _longest_verdicts(model, steps)))
    ws.freeze_panes(FIRST_STEP_ROW - 1, 0)
    print_setup(ws, rows=(6, 6))
