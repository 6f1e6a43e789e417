"""An automaton beside the network in a workbook: the transition table as editable data on an Automaton sheet,
and on the Run sheet the automaton's state, its accept and whether it agrees with the network, step by step, by
lookup formulas over that table (so they follow the input and any edit of the table). A Mealy or Moore machine
adds its outputs to the table and an ``automaton output`` column; ``agree`` then compares outputs. A word
classifier is compared on the whole word only; when it frames words with markers, the automaton reads nothing on
the markers' rows.

The table holds state names and symbols as text cells, never formulas. The lookups compare names with EXACT
in one-cell array formulas rather than MATCH, which ignores case and, in LibreOffice, may read wildcards or regular
expressions in the name (Gnumeric applies EXACT element-wise only in an array formula); every formula uses only
functions LibreOffice and Gnumeric compute."""

from __future__ import annotations

from dataclasses import dataclass

from .automata import determinise
from .errors import UserError
from .grammar import Grammar
from .reading import Reading
from .sheet_formats import Formats, print_setup
from .sheet_layout import FIRST_STEP_ROW, NONE, SheetWriter, beyond_the_sheet, col, fitting_width, past_end

__all__ = ["AUTOMATON_COLUMNS", "AutomatonRun", "BROKEN", "FIRST_SYMBOL_COLUMN", "MAX_SYMBOLS", "NOT_JUDGED",
           "NetworkAnswers", "PARTING", "TABLE_ROW", "automaton_run", "check_automaton", "compared", "next_symbols",
           "table_states", "write_automaton_columns", "write_automaton_sheet"]

AUTOMATON_COLUMNS = {"automaton state": 7, "automaton accept": 8, "agree": 9, "row": 10, "symbol column": 11,
                     "target": 12, "automaton next": 13, "automaton output": 14}
_COMPARED = {"output": "the output", "accept": "accept", "state": "the state"}  # what ``agree`` compares, in row 6
PARTING = "they part"  # how row 6 begins where network and automaton part: then red, else green
NOT_JUDGED = "the empty word is not judged (--nonempty)"  # row 6 for the empty input under a nonempty reading
BROKEN = "no comparison: the agree column holds errors"  # row 6 when a spreadsheet could not compute it
MAX_SYMBOLS = 250  # the formula joining a state's next symbols grows by some 30 characters a symbol
TABLE_ROW = 4  # Automaton sheet: row of the start state; symbols head the columns from C on row 3
FIRST_SYMBOL_COLUMN = 3


@dataclass(frozen=True)
class NetworkAnswers:
    """The network's decoded answers after every prefix of the default input: accepts (None without an accept
    head), state names, and outputs (None without out: heads)."""

    accepts: list[bool] | None
    states: list[str]
    outputs: list[str] | None = None
    after_symbols: bool = False  # outputs read after each symbol only (an argmax reading): t = 0 is not compared


@dataclass(frozen=True)
class AutomatonRun:
    """The automaton's run on a word, as the formulas compute it: the 1-based table row of the state after each
    prefix (0 once it has no state), the state names ('(none)') and accepts."""

    rows: tuple[int, ...]
    states: tuple[str, ...]
    accepts: tuple[bool, ...]
    targets: tuple[str, ...]  # the table's entry read at each step ('' when none was read, or the entry is blank)
    nexts: tuple[str, ...]  # the symbols the state has a transition for, joined by spaces ('' without a state)
    outputs: tuple[str, ...]  # a machine's output: of the state (Moore) or of the edge just crossed (Mealy); '(none)'


def table_states(g: Grammar) -> list[str]:
    """The table's state order: the start state first, then the others in the grammar's order."""
    return [g.start] + [s for s in g.states if s != g.start]


def automaton_run(g: Grammar, word: tuple[str, ...]) -> AutomatonRun:
    """The deterministic automaton ``g``'s run on ``word``; a symbol without an edge (or unknown) leaves it."""
    d = determinise(g)
    order = {s: k + 1 for k, s in enumerate(table_states(d))}
    step = {(p, a): q for p, a, q in d.transitions}
    moore, mealy = dict(d.state_outputs), dict(d.edge_outputs)
    state: str | None = d.start
    rows, states, accepts, targets, nexts, outputs = [], [], [], [], [], []
    for t in range(len(word) + 1):
        targets.append("")
        crossed = None
        if t and state is not None:
            before, state = state, step.get((state, word[t - 1]))
            targets[-1] = state or ""
            crossed = mealy.get((before, word[t - 1], state))
        outputs.append((moore.get(state) if moore else crossed) or NONE)
        rows.append(order[state] if state is not None else 0)
        states.append(state if state is not None else NONE)
        accepts.append(state in d.accept if state is not None else False)
        nexts.append(next_symbols(d, state) if state is not None else "")
    return AutomatonRun(tuple(rows), tuple(states), tuple(accepts), tuple(targets), tuple(nexts), tuple(outputs))


def next_symbols(d: Grammar, state: str) -> str:
    """The symbols ``state`` of the deterministic ``d`` has a transition for, in alphabet order, joined by spaces."""
    have = {a for p, a, _ in d.transitions if p == state}
    return " ".join(a for a in d.alphabet if a in have)


def check_automaton(g: Grammar, max_rows: int, max_columns: int, max_cells: int, check_text) -> Grammar:
    """The deterministic automaton of ``g`` if its table fits a sheet and its names fit cells, else a UserError."""
    d = determinise(g)
    if len(d.states) + TABLE_ROW > max_rows or len(d.alphabet) + FIRST_SYMBOL_COLUMN > max_columns or \
            len(d.states) * (len(d.alphabet) + 2) > max_cells:
        raise UserError(f"the automaton {d.name!r} has {len(d.states):,} states and {len(d.alphabet):,} symbols; its "
                        "transition table does not fit a sheet")
    if len(d.alphabet) > MAX_SYMBOLS:
        raise UserError(f"the automaton {d.name!r} has {len(d.alphabet):,} symbols; a workbook shows automata of at "
                        f"most {MAX_SYMBOLS} symbols")
    for s in d.states:
        check_text(s, "automaton state")
    for a in d.alphabet:
        check_text(a, "automaton symbol")
    for v in d.output_values:
        check_text(v, "automaton output")
    return d


def write_automaton_sheet(sh: SheetWriter, g: Grammar, fmt: Formats) -> tuple[str, str, str, str, str, str]:
    """The transition table: state, accept, then one column per symbol holding the next state (blank: no edge).
    The column after the symbols joins, by a formula, the symbols each state has a transition for. A Moore
    machine's outputs follow in one column, a Mealy machine's in one column per symbol (the output of that edge).
    Returns the absolute references of the state names, the accepts, the symbols, the targets, those joins and
    the outputs ('' for an acceptor)."""
    d = determinise(g)
    states = table_states(d)
    sh.text(1, 1, f"automaton {d.name}: the transition table (edit it; the Run sheet follows)", fmt.title)
    sh.text(2, 1, "Row 4 is the start state. A blank cell: no transition, the automaton stops ((none)). State names "
                  "and symbols are text; they are compared exactly (case matters).", fmt.caption)
    sh.text(3, 1, "state", fmt.header)
    sh.text(3, 2, "accept", fmt.header)
    for j, a in enumerate(d.alphabet):
        sh.text(3, FIRST_SYMBOL_COLUMN + j, a, fmt.header)
    step = {(p, a): q for p, a, q in d.transitions}
    next_column = FIRST_SYMBOL_COLUMN + len(d.alphabet)
    sh.text(3, next_column, "next symbols", fmt.header)
    for i, s in enumerate(states):
        r = TABLE_ROW + i
        sh.text(r, 1, s)
        sh.ws.write_boolean(r - 1, 1, s in d.accept, fmt.truth)
        for j, a in enumerate(d.alphabet):
            sh.text(r, FIRST_SYMBOL_COLUMN + j, step.get((s, a), ""), fmt.answer)
        parts = [f'IF({col(FIRST_SYMBOL_COLUMN + j)}{r}<>"",{col(FIRST_SYMBOL_COLUMN + j)}$3&" ","")'
                 for j in range(len(d.alphabet))]
        sh.formula(r, next_column, f"=TRIM({'&'.join(parts)})", next_symbols(d, s))
    sh.ws.set_column(next_column - 1, next_column - 1,  # its header on one line (two ran up into the note)
                     fitting_width(["next symbols", *(next_symbols(d, s) for s in states)], 13, 40))
    outputs = _write_outputs(sh, d, states, next_column + 1, fmt)
    last_row = _last_row(states)
    last_col = col(FIRST_SYMBOL_COLUMN + len(d.alphabet) - 1)
    first_col = col(FIRST_SYMBOL_COLUMN)
    sh.ws.set_column(0, 0, 16)
    sh.ws.freeze_panes(TABLE_ROW - 1, 1)
    columns = next_column + (len(d.alphabet) if d.edge_outputs else 1 if d.state_outputs else 0)
    print_setup(sh.ws, rows=(TABLE_ROW - 2, TABLE_ROW - 2), columns=(0, 0),  # the symbols' row, the state names
                pages_wide=max(1, min(4, round(columns / 30))))  # 250 symbols on one page's width: unreadable
    return (f"Automaton!$A${TABLE_ROW}:$A${last_row}", f"Automaton!$B${TABLE_ROW}:$B${last_row}",
            f"Automaton!${first_col}$3:${last_col}$3",
            f"Automaton!${first_col}${TABLE_ROW}:${last_col}${last_row}",
            f"Automaton!${col(next_column)}${TABLE_ROW}:${col(next_column)}${last_row}", outputs)


def _last_row(states: list[str]) -> int:
    """The last row of the table's lookup ranges: at least two rows, the second empty for a one-state automaton
    (Gnumeric answers INDEX over a one-cell range with #REF!, and every automaton column with it: trial 108)."""
    return TABLE_ROW + max(len(states), 2) - 1


def _write_outputs(sh: SheetWriter, d: Grammar, states: list[str], first: int, fmt: Formats) -> str:
    """A machine's outputs as text from column ``first`` on: one column (Moore) or one per symbol (Mealy).
    Returns their absolute reference, '' for an acceptor."""
    if not d.machine:
        return ""
    moore, mealy = dict(d.state_outputs), dict(d.edge_outputs)
    step = {(p, a): q for p, a, q in d.transitions}
    heads = ["output"] if moore else [f"output on {a}" for a in d.alphabet]
    for j, head in enumerate(heads):
        sh.text(3, first + j, head, fmt.header)
    for i, s in enumerate(states):
        values = [moore[s]] if moore else [mealy.get((s, a, step.get((s, a))), "") for a in d.alphabet]
        for j, v in enumerate(values):
            sh.text(TABLE_ROW + i, first + j, v, fmt.answer)
    last_row = _last_row(states)
    return f"Automaton!${col(first)}${TABLE_ROW}:${col(first + len(heads) - 1)}${last_row}"


def write_automaton_columns(sh: SheetWriter, g: Grammar, refs: tuple[str, str, str, str, str, str],
                            word: tuple[str, ...], network: NetworkAnswers, steps: int, fmt: Formats,
                            reading: Reading = Reading()) -> AutomatonRun:
    """The automaton's columns on Run beside the network's, the ``agree`` column and the sentence in row 6.
    ``network`` holds the network's decoded answers after every prefix of what it reads; agreement compares (see
    :func:`compared`) a machine's outputs with the network's decoded output, else accepts, else state names.
    A word classifier (``reading.final_only``) is compared on the whole word only (the other rows show "-"); the
    network reads the word framed by its markers, the automaton the word alone: on a marker's row the automaton
    reads nothing and its columns show "-". A ``nonempty`` reading compares nothing on the empty word ("-")."""
    names, accepts, symbols, targets, nexts, outputs = refs
    by = compared(g, network, reading.final_only)
    ac = AUTOMATON_COLUMNS
    run = automaton_run(g, word)
    start, end = int(reading.start is not None), int(reading.end is not None)
    n = len(word) + start + end  # the rows the network reads
    first, last = FIRST_STEP_ROW, FIRST_STEP_ROW + steps
    R, S, T = col(ac["row"]), col(ac["symbol column"]), col(ac["target"])
    for key in ("automaton state", "automaton accept", "agree", "automaton next") + (("automaton output",) if outputs
                                                                                      else ()):
        sh.text(7, ac[key], "" if g.machine and key == "automaton accept" else key, fmt.header)
    sh.text(7, ac["row"], "table row", fmt.header)
    sh.text(7, ac["symbol column"], "symbol column", fmt.header)
    sh.text(7, ac["target"], "next state", fmt.header)
    columns = [0] + [(g.alphabet.index(a) + 1) if a in g.alphabet else 0 for a in word]  # the symbol's column
    agree_values = []
    for t in range(steps + 1):
        r = first + t
        live = t <= n
        marker = live and t > 0 and ((start and t == 1) or (end and t == n))
        i = t - start if t else 0  # the automaton's step on this row (for a row that is not a marker's)
        guard = past_end(r)

        def pick(values, on_marker):
            """The cached value of this row: the automaton's ``values[i]``, or ``on_marker`` on a marker's row."""
            return "" if not live else on_marker if marker else values[i]

        def put(c: int, normal: str, on_marker: str, value, array: bool = False, style=fmt.answer) -> None:
            """A cell of row ``r``: ``normal`` on the word's rows, ``on_marker`` on a marker's row."""
            if t and start and t == 1:
                body = on_marker
            elif t and end:
                body = f"IF($A{r}=input_length,{on_marker},{normal})"
            else:
                body = normal
            (sh.array_formula if array else sh.formula)(r, c, f'=IF({guard},"",{body})', value, style)

        if t == 0:
            sh.formula(r, ac["row"], "=1", 1)
        else:
            put(ac["symbol column"], f'SUM(EXACT({symbols},$B{r})*(COLUMN({symbols})-COLUMN(Automaton!'
                f'${col(FIRST_SYMBOL_COLUMN)}$3)+1))', "0", pick(columns, 0), True, None)
            put(ac["target"], f'IF(OR({R}{r - 1}=0,{S}{r}=0),"",INDEX({targets},{R}{r - 1},{S}{r})&"")', '""',
                pick(run.targets, ""), style=None)
            put(ac["row"], f'IF({T}{r}="",0,SUM(EXACT({names},{T}{r})*(ROW({names})-{TABLE_ROW}+1)))', f"{R}{r - 1}",
                pick(run.rows, run.rows[min(i, len(word))]), True, None)  # a marker's row carries the state over
        put(ac["automaton state"], f'IF({R}{r}=0,"{NONE}",INDEX({names},{R}{r},1))', '"-"', pick(run.states, "-"))
        put(ac["automaton next"], f'IF({R}{r}=0,"",INDEX({nexts},{R}{r},1))', '"-"', pick(run.nexts, "-"))
        put(ac["automaton accept"], _accept_at(accepts, f"{R}{r}"), '"-"', pick(run.accepts, "-"),
            style=fmt.hidden if g.machine else fmt.truth)
        if outputs:
            put(ac["automaton output"], _output_formula(g, outputs, r, t), '"-"', pick(run.outputs, "-"))
        if by == "output" and t == 0 and network.after_symbols:
            test, agrees = "TRUE", live
        elif by == "output":
            test = f'EXACT($F{r},{col(ac["automaton output"])}{r})'
            agrees = live and not marker and network.outputs[t] == run.outputs[i]
        elif by == "accept":
            # on a marker's row the table row carries the automaton's state over
            test = f'$D{r}={_accept_at(accepts, f"{R}{r}") if start or end else col(ac["automaton accept"]) + str(r)}'
            agrees = live and network.accepts[t] == run.accepts[len(word) if marker else i]
        else:
            test = f'EXACT($C{r},{col(ac["automaton state"])}{r})'
            agrees = live and not marker and network.states[t] == run.states[i]
        if reading.final_only:  # only the whole word counts (not the empty one, with --nonempty)
            judged = f'IF(input_length={start + end},"-",{test})' if reading.nonempty else test
            test = f'IF($A{r}=input_length,{judged},"-")'  # a word longer than the sheet: no row is its end
            agrees = agrees if t == n and not (reading.nonempty and not word) else "-"
        elif reading.nonempty and t == 0:  # the empty prefix is not judged
            test, agrees = '"-"', "-"
        sh.formula(r, ac["agree"], f'=IF({guard},"",{test})', agrees if live else "", fmt.truth)
        if live:
            agree_values.append(agrees)
    framed = reading.frame(word)
    sentence = _sentence_value(framed, len(word), agree_values, network, run, by, reading.final_only,
                               reading.nonempty)
    sh.ws.merge_range(5, 0, 5, 5, "", fmt.agreeing_wrap)
    sh.formula(6, 1, _sentence_formula(first, last, steps, by, reading, refs), sentence, fmt.agreeing_wrap)
    for text in (PARTING, BROKEN):  # red: they part, or no comparison could be made
        sh.ws.conditional_format("A6", {"type": "text", "criteria": "begins with", "value": text,
                                        "format": fmt.parting})
    sh.ws.set_row(5, 30)  # two lines: the sentence names both answers and a state
    sh.ws.set_row(6, 30)  # two lines: the header 'automaton accept' (one line grew up into the legend)
    A = col(ac["agree"])
    sh.ws.conditional_format(f"A{first}:{col(max(ac.values()))}{last}", {
        "type": "formula", "criteria": f"=$A{first}+1=MATCH(FALSE,${A}${first}:${A}${last},0)",
        "format": fmt.parting})
    d = determinise(g)
    states = table_states(d)  # names as long as 'waiting_for_client_hello_message' were cut at both ends
    sh.ws.set_column(ac["automaton state"] - 1, ac["automaton state"] - 1, fitting_width(states, 18, 40))
    sh.ws.set_column(ac["automaton accept"] - 1, ac["agree"] - 1, 10)
    if g.machine:  # a Mealy or Moore machine accepts nothing: its accept column, FALSE on every row, is kept empty
        # and narrow, not hidden: the Run sheet's colour legend has its swatches in that column
        sh.ws.set_column(ac["automaton accept"] - 1, ac["automaton accept"] - 1, 3)
    sh.ws.set_column(ac["row"] - 1, ac["target"] - 1, 8, None, {"hidden": True})
    every_next = [" ".join(d.alphabet)]  # what a state with an edge for every symbol shows: the widest
    sh.ws.set_column(ac["automaton next"] - 1, ac["automaton next"] - 1, fitting_width(every_next, 18, 40))
    sh.ws.set_column(ac["automaton output"] - 1, ac["automaton output"] - 1, fitting_width(d.output_values, 18, 40))
    return run


def _accept_at(accepts: str, row: str) -> str:
    """The automaton's accept in table row ``row`` (a cell; 0: no state, so FALSE)."""
    return f"IF({row}=0,FALSE,INDEX({accepts},{row},1)=TRUE)"


def compared(g: Grammar, network: NetworkAnswers, final_only: bool = False) -> str:
    """What ``agree`` compares: ``output`` for a machine beside a network with out: heads; for an acceptor,
    ``accept`` when the network has an accept head (a word classifier: only accept); else ``state`` (the decoded
    state names), for a machine too when the network has state heads but no out: heads. A UserError when
    nothing can be compared: a machine accepts nothing, so its answers are its outputs or its states."""
    if g.machine:
        if network.outputs is not None and not final_only:
            return "output"
        if network.states and set(network.states) != {"-"} and not final_only:
            return "state"
        what = "is a word classifier (only its accept after the whole word is read)" if final_only else \
            "has neither out: heads nor state heads"
        raise UserError(f"the automaton {g.name!r} is a {g.machine.capitalize()} machine, which accepts nothing, and "
                        f"the model {what}: nothing to compare; give an acceptor (a grammar without outputs) "
                        "as the automaton, or a model with out: heads")
    if network.accepts is not None:
        return "accept"
    if final_only or not network.states or set(network.states) == {"-"}:
        raise UserError(f"the model has neither an accept head nor state heads to compare with the automaton "
                        f"{g.name!r}; write the workbook without the automaton")
    return "state"


def _output_formula(g: Grammar, outputs: str, r: int, t: int) -> str:
    """The automaton's output at row ``r``: its state's (Moore), or that of the edge just crossed (Mealy);
    (none) where the table's output cell is blank, as the runtime says when there is no output."""
    R, S, T = (col(AUTOMATON_COLUMNS[k]) for k in ("row", "symbol column", "target"))
    blank_is_none = lambda cell: f'IF({cell}&""="","{NONE}",{cell}&"")'  # noqa: E731
    if g.state_outputs:
        return f'IF({R}{r}=0,"{NONE}",{blank_is_none(f"INDEX({outputs},{R}{r},1)")})'
    if t == 0:
        return f'"{NONE}"'
    return f'IF(OR({T}{r}="",{R}{r - 1}=0,{S}{r}=0),"{NONE}",{blank_is_none(f"INDEX({outputs},{R}{r - 1},{S}{r})")})'


def _sentence_formula(first: int, last: int, steps: int, by: str, reading: Reading,
                      refs: tuple[str, ...]) -> str:
    """Where network and automaton part, or that they agree. The automaton's state and accept are read through
    the table row, which a marker's row carries over."""
    A, R = col(AUTOMATON_COLUMNS["agree"]), col(AUTOMATON_COLUMNS["row"])
    names, accepts = refs[0], refs[1]
    k = f"MATCH(FALSE,${A}${first}:${A}${last},0)"
    at = lambda c: f"INDEX(${c}${first}:${c}${last},{k},1)"  # noqa: E731
    state = f'IF({at(R)}=0,"{NONE}",INDEX({names},{at(R)},1))'
    if by == "output":
        says = (f'"network says output "&{at("F")}&", automaton says output "&'
                f'{at(col(AUTOMATON_COLUMNS["automaton output"]))}&" (state "&{state}&")"')
    elif by == "accept":
        says = (f'"network says "&IF({at("D")},"accept","reject")&", automaton says "&'
                f'IF({_accept_at(accepts, at(R))},"accept","reject")&" (state "&{state}&")"')
    else:
        automaton_state = at(col(AUTOMATON_COLUMNS["automaton state"]))
        says = f'"network says state "&{at("C")}&", automaton says state "&{automaton_state}'
    part = f'"{PARTING} at step "&({k}-1)&IF({k}=1,""," (symbol "&{at("B")}&")")&": "&{says}'
    markers = int(reading.start is not None) + int(reading.end is not None)
    length = f"MIN(input_length,{steps})" + (f"-{markers}" if markers else "")
    symbols = f'"("&{length}&IF({length}=1," symbol)"," symbols)")'
    agree = (f'"network and automaton agree on the whole word "&{symbols}' if reading.final_only
             else f'"network and automaton agree on {_COMPARED[by]} after every prefix "&{symbols}')
    if reading.nonempty:
        agree = f'IF({length}=0,"{NOT_JUDGED}",{agree})'
    # no "agree" over error values: SUM passes on an error in its range in every engine (Gnumeric reads
    # ISERROR(range) inside SUMPRODUCT as one cell, out of range here, so always an error)
    broken = f"ISERROR(SUM(${A}${first}:${A}${last}))"
    beyond = beyond_the_sheet(steps, framed=markers > 0)
    return f'=IF({broken},"{BROKEN}",IF(ISNUMBER({k}),{part},IF(input_length>{steps},{beyond},{agree})))'


def _sentence_value(framed: tuple[str, ...], length: int, agree: list, network: NetworkAnswers, run: AutomatonRun,
                    by: str, final_only: bool, nonempty: bool = False) -> str:
    """What the sentence formula computes for the default input: ``framed`` is what the network read, ``length``
    the number of symbols the automaton read."""
    if False not in agree:
        if nonempty and not length:
            return NOT_JUDGED
        symbols = f"({length} symbol{'' if length == 1 else 's'})"
        return (f"network and automaton agree on the whole word {symbols}" if final_only else
                f"network and automaton agree on {_COMPARED[by]} after every prefix {symbols}")
    t = agree.index(False)
    i = length if final_only else t  # the automaton's step: after the whole word for a word classifier
    symbol = "" if t == 0 else f" (symbol {framed[t - 1]})"
    if by == "output":
        says = (f"network says output {network.outputs[t]}, automaton says output {run.outputs[i]} "
                f"(state {run.states[i]})")
    elif by == "accept":
        word_of = lambda b: "accept" if b else "reject"  # noqa: E731
        says = (f"network says {word_of(network.accepts[t])}, automaton says {word_of(run.accepts[i])} "
                f"(state {run.states[i]})")
    else:
        says = f"network says state {network.states[t]}, automaton says state {run.states[i]}"
    return f"{PARTING} at step {t}{symbol}: {says}"
