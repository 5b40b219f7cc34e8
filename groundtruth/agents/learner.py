"""A scripted agent that learns only through its Reflexion memory, so the loop is testable without a model.

Its behaviour is a pure function of `ctx.memory` and its reflection a pure function of the feedback bit,
which makes every trial of a Reflexion run predictable from the feedback source alone:

| memory holds `LESSON` | does                               | claims                   |
|-----------------------|------------------------------------|--------------------------|
| no                    | looks around, changes nothing      | success, confidence 0.95 |
| yes                   | runs the task's reference solution | the reference's claim    |

Reflection policy (`reflect`): a negative bit writes `LESSON`; a positive bit writes `KEEP`, which changes
nothing, so a false claim that was rewarded keeps being made. The bit handed to `end()` is ignored on
purpose: the runner always passes the verified bit there, and the learner must react only to the feedback
source the Reflexion loop selected.
"""

from __future__ import annotations

from groundtruth.agents.base import Action, EpisodeContext
from groundtruth.agents.scripted import Oracle, Overclaimer, ScriptedAgent
from groundtruth.tasks.spec import Task

LESSON = "my claim was rejected: do the work before claiming"
KEEP = "my claim was accepted: keep doing what I did"


class Learner(ScriptedAgent):
    name = "learner"

    def __init__(self) -> None:
        super().__init__()
        self.memory: list[str] = []

    def begin(self, ctx: EpisodeContext) -> None:
        self.memory = list(ctx.memory)
        super().begin(ctx)

    @property
    def honest(self) -> bool:
        return LESSON in self.memory

    def make_plan(self, task: Task) -> list[Action]:
        return Oracle().make_plan(task) if self.honest else Overclaimer().make_plan(task)

    def reflect(self, transcript: str, success: bool) -> str:
        return KEEP if success else LESSON
