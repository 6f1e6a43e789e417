"""The one exception type that the command line turns into a one-line message and exit code 2."""

__all__ = ["GrammarError", "ModelError", "SumsMayOverflow", "Terminated", "UserError"]


class UserError(Exception):
    """Bad input from the user: a file, an option or a string. The message says what and how to fix it."""


class GrammarError(UserError):
    """A grammar file or grammar object is malformed."""


class ModelError(UserError):
    """A model file is malformed or does not fit the request."""


class SumsMayOverflow(ModelError):
    """A network whose sums can pass half the range of the float type it runs in; ``reason`` says where, and the
    message adds what a model file's author can change (an importer says what its user can)."""

    def __init__(self, reason: str, float32: bool) -> None:
        self.reason, self.float32 = reason, float32
        super().__init__(f"{reason}; scale the weights down" + (', or set meta.precision to "float64"' if float32
                                                                 else ""))


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived while fsm-lstm was writing: raised like KeyboardInterrupt, so that every
    ``finally`` runs and no temporary file is left behind. ``signum`` is the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum
