"""Default limits shared by the library and the command line.

They live apart from the modules that use them so that building the command line's parser (and
``fsm-lstm --help``) imports nothing heavy.
"""

from __future__ import annotations

__all__ = ["EXHAUSTIVE_BUDGET", "EXHAUSTIVE_CAP", "EXHAUSTIVE_TIME", "MAX_COLUMNS", "MAX_EXAMPLES",
           "MAX_LOCAL_WORKERS", "MAX_PLOT_SYMBOLS", "MAX_REGIONS", "MIN_FIDELITY", "PATIENCE", "SIGNIFICANCE",
           "TIME_LIMIT"]

EXHAUSTIVE_BUDGET = 2_000_000  # prefixes the exhaustive layer of verify runs by default
EXHAUSTIVE_CAP = 12  # and the longest length it goes to by default
EXHAUSTIVE_TIME = 300.0  # seconds after which the exhaustive layer stops and says how far it got
MAX_LOCAL_WORKERS = 64  # processes of a local Dask cluster: each is a Python with numpy loaded (about 100 MB)
MAX_EXAMPLES = 100_000  # hypothesis examples per strategy: it makes them one at a time (10 million ran for hours)
MAX_COLUMNS = 16_384  # the spreadsheet format's limit on columns
MAX_PLOT_SYMBOLS = 500  # plot: 30 pixels a symbol, a 15,000-pixel PNG (2,400 symbols took 55 s and 1.2 GB)
MAX_REGIONS = 4000  # boxes the region proof of a trained network may use
TIME_LIMIT = 20.0  # seconds the region proof may take
MIN_FIDELITY = 0.99  # agreement with the network on held-out words below which extract exits 1
PATIENCE = 50  # L* rounds without a significant gain in validation agreement before it stops
SIGNIFICANCE = 0.05  # of the paired tests that find L*'s plateau (fsm_lstm.paired)
