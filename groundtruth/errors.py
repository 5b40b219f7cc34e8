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
