"""An automaton beside the network in a workbook: the transition table as editable data on an Automaton sheet,
and on the Run sheet the automaton's state, its accept and whether it agrees with the network, step by step, by
lookup formulas over that table (so they follow the input and any edit of the table). A Mealy or Moore machine
adds its outputs to the table and an ``automaton output`` column; ``agree`` then compares outputs.

The table holds state names and symbols as text cells, never formulas. The lookups compare names with EXACT
in one-cell array formulas rather than MATCH, which ignores case and, in LibreOffice, may read wildcards or regular
expressions in the name (Gnumeric applies EXACT element-wise only in an array formula); every formula uses only
functions LibreOffice and Gnumeric compute."""

from __future__ import annotations

from dataclasses import dataclass

from .automata import determinise
from .errors import UserError
from .grammar import Grammar
from .sheet_formats import Formats
from .sheet_layout import FIRST_STEP_ROW, NONE, SheetWriter, col, past_end

__all__ = ["AUTOMATON_COLUMNS", "AutomatonRun", "FIRST_SYMBOL_COLUMN", "MAX_SYMBOLS", "NetworkAnswers", "TABLE_ROW",
           "automaton_run", "check_automaton", "compared", "next_symbols", "table_states", "write_automaton_columns",
           "write_automaton_sheet"]

AUTOMATON_COLUMNS = {"automaton state": 7, "automaton accept": 8, "agree": 9, "row": 10, "symbol column": 11,
                     "target": 12, "automaton next": 13, "automaton output": 14}
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
        sh.ws.write_boolean(r - 1, 1, s in d.accept, fmt.answer)
        for j, a in enumerate(d.alphabet):
            sh.text(r, FIRST_SYMBOL_COLUMN + j, step.get((s, a), ""), fmt.answer)
        parts = [f'IF({col(FIRST_SYMBOL_COLUMN + j)}{r}<>"",{col(FIRST_SYMBOL_COLUMN + j)}$3&" ","")'
                 for j in range(len(d.alphabet))]
        sh.formula(r, next_column, f"=TRIM({'&'.join(parts)})", next_symbols(d, s))
    outputs = _write_outputs(sh, d, states, next_column + 1, fmt)
    last_row = TABLE_ROW + len(states) - 1
    last_col = col(FIRST_SYMBOL_COLUMN + len(d.alphabet) - 1)
    first_col = col(FIRST_SYMBOL_COLUMN)
    sh.ws.set_column(0, 0, 16)
    sh.ws.freeze_panes(TABLE_ROW - 1, 1)
    return (f"Automaton!$A${TABLE_ROW}:$A${last_row}", f"Automaton!$B${TABLE_ROW}:$B${last_row}",
            f"Automaton!${first_col}$3:${last_col}$3",
            f"Automaton!${first_col}${TABLE_ROW}:${last_col}${last_row}",
            f"Automaton!${col(next_column)}${TABLE_ROW}:${col(next_column)}${last_row}", outputs)


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
    last_row = TABLE_ROW + len(states) - 1
    return f"Automaton!${col(first)}${TABLE_ROW}:${col(first + len(heads) - 1)}${last_row}"


def write_automaton_columns(sh: SheetWriter, g: Grammar, refs: tuple[str, str, str, str, str, str],
                            word: tuple[str, ...], network: NetworkAnswers, steps: int, fmt: Formats,
                            final_only: bool = False) -> AutomatonRun:
    """The automaton's columns on Run beside the network's, the ``agree`` column and the sentence in row 6.
    ``network`` holds the network's decoded answers for the default input; agreement compares (see
    :func:`compared`) a machine's outputs with the network's decoded output, else accepts, else state names.
    With ``final_only`` (a word classifier) only the last step is compared; the other rows show "-"."""
    names, accepts, symbols, targets, nexts, outputs = refs
    by = "accept" if final_only else compared(g, network)  # a word classifier is judged on accept only
    ac = AUTOMATON_COLUMNS
    run = automaton_run(g, word)
    n = len(word)
    first, last = FIRST_STEP_ROW, FIRST_STEP_ROW + steps
    R, S, T = col(ac["row"]), col(ac["symbol column"]), col(ac["target"])
    for key in ("automaton state", "automaton accept", "agree", "automaton next") + (("automaton output",) if outputs
                                                                                      else ()):
        sh.text(7, ac[key], key, fmt.header)
    sh.text(7, ac["row"], "table row", fmt.header)
    sh.text(7, ac["symbol column"], "symbol column", fmt.header)
    sh.text(7, ac["target"], "next state", fmt.header)
    agree_values = []
    for t in range(steps + 1):
        r = first + t
        live = t <= n
        guard = past_end(r)
        if t == 0:
            sh.formula(r, ac["row"], "=1", 1)
        else:
            sh.array_formula(r, ac["symbol column"], f'=IF({guard},"",SUM(EXACT({symbols},$B{r})*'
                             f'(COLUMN({symbols})-COLUMN(Automaton!${col(FIRST_SYMBOL_COLUMN)}$3)+1)))',
                       ((g.alphabet.index(word[t - 1]) + 1) if word[t - 1] in g.alphabet else 0) if live else "")
            sh.formula(r, ac["target"], f'=IF({guard},"",IF(OR({R}{r - 1}=0,{S}{r}=0),"",'
                       f'INDEX({targets},{R}{r - 1},{S}{r})&""))', run.targets[t] if live else "")
            sh.array_formula(r, ac["row"], f'=IF({guard},"",IF({T}{r}="",0,'
                             f'SUM(EXACT({names},{T}{r})*(ROW({names})-{TABLE_ROW}+1))))',
                             run.rows[t] if live else "")
        sh.formula(r, ac["automaton state"], f'=IF({guard},"",IF({R}{r}=0,"{NONE}",INDEX({names},{R}{r},1)))',
                   run.states[t] if live else "", fmt.answer)
        sh.formula(r, ac["automaton next"], f'=IF({guard},"",IF({R}{r}=0,"",INDEX({nexts},{R}{r},1)))',
                   run.nexts[t] if live else "", fmt.answer)
        sh.formula(r, ac["automaton accept"], f'=IF({guard},"",IF({R}{r}=0,FALSE,INDEX({accepts},{R}{r},1)=TRUE))',
                   run.accepts[t] if live else "", fmt.answer)
        if outputs:
            sh.formula(r, ac["automaton output"], _output_formula(g, outputs, r, t), run.outputs[t] if live else "",
                       fmt.answer)
        if by == "output":
            test = f'EXACT($F{r},{col(ac["automaton output"])}{r})'
            agrees = live and network.outputs[t] == run.outputs[t]
        elif by == "accept":
            test = f'$D{r}={col(ac["automaton accept"])}{r}'
            agrees = live and network.accepts[t] == run.accepts[t]
        else:
            test = f'EXACT($C{r},{col(ac["automaton state"])}{r})'
            agrees = live and network.states[t] == run.states[t]
        if final_only:  # only the whole word counts
            test = f'IF($A{r}=MIN(input_length,{steps}),{test},"-")'
            agrees = agrees if t == n else "-"
        sh.formula(r, ac["agree"], f'=IF({guard},"",{test})', agrees if live else "", fmt.answer)
        if live:
            agree_values.append(agrees)
    sentence = _sentence_value(word, agree_values, network, run, by, final_only)
    sh.ws.merge_range(5, 0, 5, 5, "", fmt.warning_wrap)
    sh.formula(6, 1, _sentence_formula(first, last, steps, by, final_only), sentence, fmt.warning_wrap)
    sh.ws.set_row(5, 30)  # two lines: the sentence names both answers and a state
    A = col(ac["agree"])
    sh.ws.conditional_format(f"A{first}:{col(max(ac.values()))}{last}", {
        "type": "formula", "criteria": f"=$A{first}+1=MATCH(FALSE,${A}${first}:${A}${last},0)",
        "format": fmt.bad_symbol})
    sh.ws.set_column(ac["automaton state"] - 1, ac["automaton state"] - 1, 18)
    sh.ws.set_column(ac["automaton accept"] - 1, ac["agree"] - 1, 10)
    sh.ws.set_column(ac["row"] - 1, ac["target"] - 1, 8, None, {"hidden": True})
    sh.ws.set_column(ac["automaton next"] - 1, ac["automaton output"] - 1, 18)
    return run


def compared(g: Grammar, network: NetworkAnswers) -> str:
    """What ``agree`` compares: ``output`` for a machine beside a network with out: heads, else ``accept`` when the
    network has an accept head, else ``state`` (the decoded state names)."""
    if g.machine and network.outputs is not None:
        return "output"
    return "accept" if network.accepts is not None else "state"


def _output_formula(g: Grammar, outputs: str, r: int, t: int) -> str:
    """The automaton's output at row ``r``: its state's (Moore), or that of the edge just crossed (Mealy)."""
    R, S, T = (col(AUTOMATON_COLUMNS[k]) for k in ("row", "symbol column", "target"))
    guard = past_end(r)
    if g.state_outputs:
        return f'=IF({guard},"",IF({R}{r}=0,"{NONE}",INDEX({outputs},{R}{r},1)&""))'
    if t == 0:
        return f'=IF({guard},"","{NONE}")'
    return f'=IF({guard},"",IF(OR({T}{r}="",{R}{r - 1}=0,{S}{r}=0),"{NONE}",INDEX({outputs},{R}{r - 1},{S}{r})&""))'


def _sentence_formula(first: int, last: int, steps: int, by: str, final_only: bool) -> str:
    A = col(AUTOMATON_COLUMNS["agree"])
    k = f"MATCH(FALSE,${A}${first}:${A}${last},0)"
    at = lambda c: f"INDEX(${c}${first}:${c}${last},{k},1)"  # noqa: E731
    G, H = col(AUTOMATON_COLUMNS["automaton state"]), col(AUTOMATON_COLUMNS["automaton accept"])
    if by == "output":
        says = (f'"network says output "&{at("F")}&", automaton says output "&'
                f'{at(col(AUTOMATON_COLUMNS["automaton output"]))}&" (state "&{at(G)}&")"')
    elif by == "accept":
        says = (f'"network says "&IF({at("D")},"accept","reject")&", automaton says "&IF({at(H)},"accept","reject")'
                f'&" (state "&{at(G)}&")"')
    else:
        says = f'"network says state "&{at("C")}&", automaton says state "&{at(G)}'
    part = f'"they part at step "&({k}-1)&IF({k}=1,""," (symbol "&{at("B")}&")")&": "&{says}'
    agree = (f'"network and automaton agree on the whole word ("&MIN(input_length,{steps})&" symbols)"' if final_only
             else f'"network and automaton agree on all "&MIN(input_length,{steps})&" steps"')
    return f'=IF(ISNUMBER({k}),{part},{agree})'


def _sentence_value(word, agree, network: NetworkAnswers, run: AutomatonRun, by: str, final_only: bool) -> str:
    if False not in agree:
        return (f"network and automaton agree on the whole word ({len(word)} symbols)" if final_only else
                f"network and automaton agree on all {len(word)} steps")
    t = agree.index(False)
    symbol = "" if t == 0 else f" (symbol {word[t - 1]})"
    if by == "output":
        says = (f"network says output {network.outputs[t]}, automaton says output {run.outputs[t]} "
                f"(state {run.states[t]})")
    elif by == "accept":
        word_of = lambda b: "accept" if b else "reject"  # noqa: E731
        says = (f"network says {word_of(network.accepts[t])}, automaton says {word_of(run.accepts[t])} "
                f"(state {run.states[t]})")
    else:
        says = f"network says state {network.states[t]}, automaton says state {run.states[t]}"
    return f"they part at step {t}{symbol}: {says}"
