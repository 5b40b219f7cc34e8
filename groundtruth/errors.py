"""Errors a user can act on. Each message says what to do next."""

from __future__ import annotations


class GroundtruthError(Exception):
    """Base class; the CLI prints these without a traceback."""


class InfrastructureError(GroundtruthError):
    """The sandbox or engine failed, not the agent: the episode is retried, never scored."""


class EngineUnavailable(InfrastructureError):
    pass


class ImageMissing(InfrastructureError):
    """The sandbox image is not built: nothing the agent did."""


class SandboxClosed(InfrastructureError):
    pass


class FileTooLarge(GroundtruthError):
    pass


class TaskSpecError(GroundtruthError):
    """A task file is malformed; the message names the file, the field and the reason."""


class CommandTooLong(GroundtruthError, ValueError):
    """A command over the exec size limit: the kernel (and the engine) would refuse it with a cryptic error."""


class StoreError(GroundtruthError):
    """The SQLite store cannot be opened or written (not a database, read-only, disk full, foreign schema).

    Never an episode's failure: a run stops at once, keeps what it already stored, and says how to continue.
    """


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a run; the message says how to continue it with `--resume`."""

    def __init__(self, message: str, *, run_id: str, finished: int, total: int) -> None:
        super().__init__(message)
        self.message = message
        self.run_id = run_id
        self.finished = finished
        self.total = total
