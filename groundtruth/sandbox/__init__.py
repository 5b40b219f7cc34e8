"""Sandboxes: isolated, hardened containers that agents act in and verifiers read from outside."""

from groundtruth.sandbox.base import (
    AGENT_USER,
    AsyncSandbox,
    DiffEntry,
    ExecResult,
    FileStat,
    ProcessInfo,
    SandboxSpec,
)
from groundtruth.sandbox.docker import AsyncDockerSandbox, DockerSandbox

__all__ = [
    "AGENT_USER",
    "AsyncDockerSandbox",
    "AsyncSandbox",
    "DiffEntry",
    "DockerSandbox",
    "ExecResult",
    "FileStat",
    "ProcessInfo",
    "SandboxSpec",
]
