"""Verifiable tasks: the spec format, the registry that finds them, and how they are set up."""

from groundtruth.tasks.spec import Task, TaskSpec, load_task

__all__ = ["Task", "TaskSpec", "load_task"]
