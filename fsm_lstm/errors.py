"""The one exception type that the command line turns into a one-line message and exit code 2."""

__all__ = ["GrammarError", "ModelError", "Terminated", "UserError"]


class UserError(Exception):
    """Bad input from the user: a file, an option or a string. The message says what and how to fix it."""


class GrammarError(UserError):
    """A grammar file or grammar object is malformed."""


class ModelError(UserError):
    """A model file is malformed or does not fit the request."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived while fsm-lstm was writing: raised like KeyboardInterrupt, so that every
    ``finally`` runs and no temporary file is left behind. ``signum`` is the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum
