"""Per-task images: a base recipe plus Debian packages, a task-local Dockerfile's steps, and the root opt-in.

Everything is built locally with no network and no registry. Extra packages are bootstrapped together with the
base's own packages (`debootstrap --include`), so apt resolves them against each other once and nothing can
disagree with the base's versions; the task-local Dockerfile's steps (COPY, RUN, WORKDIR, ENV, ...) are
replayed FROM that image at build time, as root with the build's normal capabilities, so ownership set there is
plain Docker behaviour. Every tag is the content hash of what defines it, so an unchanged task never rebuilds.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
from importlib import resources

import jinja2
from dockerfile_parse import DockerfileParser
from pydantic import BaseModel, Field

from groundtruth import images
from groundtruth.errors import GroundtruthError
from groundtruth.tasks.spec import ImageSpec, Task

# What a task-local recipe may hold. FROM is replaced by the task's base; anything else is refused by name.
STEPS = ("RUN", "COPY", "ADD", "WORKDIR", "ENV", "ARG", "LABEL", "SHELL")


class RecipeError(GroundtruthError):
    """A task-local Dockerfile asks for something a registry-free, network-free build cannot do."""


class TaskImage(BaseModel):
    """How one task's image is made; `tag` hashes all of it."""

    tag: str
    base: str = Field(description="the image the task layer is built FROM")
    packages: list[str] = Field(default_factory=list)
    dockerfile: str | None = Field(default=None, description="the generated task layer (None: the base is used)")
    context: dict[str, bytes] = Field(default_factory=dict)
    modes: dict[str, int] = Field(default_factory=dict)


def _spec(task: Task) -> ImageSpec | None:
    img = task.spec.image
    if isinstance(img, ImageSpec):
        return img
    return ImageSpec(base=img) if task.spec.sandbox.agent_user == "root" else None


def recipe_steps(dockerfile: str, where: str) -> tuple[str, list[str]]:
    """(original FROM, the steps to replay) of a task-local Dockerfile; anything unsupported is an error."""
    parser = DockerfileParser(fileobj=io.BytesIO(dockerfile.encode()))
    original, steps = "", []
    for item in parser.structure:
        ins, value, line = item["instruction"], item["value"], item["startline"] + 1
        if ins == "COMMENT":
            continue
        if ins == "FROM":
            if original:
                raise RecipeError(f"{where}:{line}: a second FROM (multi-stage build) is not supported; "
                                  "flatten the Dockerfile into one stage")
            original = value
            continue
        if not original and ins != "ARG":
            raise RecipeError(f"{where}:{line}: {ins} before FROM")
        if ins not in STEPS:
            raise RecipeError(f"{where}:{line}: {ins} is not supported in a task recipe (supported: FROM, "
                              f"{', '.join(STEPS)}); the sandbox decides the user, command and network")
        if ins in ("COPY", "ADD") and ("--from" in value or "://" in value):
            raise RecipeError(f"{where}:{line}: {ins} {value!r} needs another image or the network; copy files "
                              "from the recipe folder instead")
        steps.append(item["content"] if item["content"].endswith("\n") else item["content"] + "\n")
    if not original:
        raise RecipeError(f"{where}: no FROM line")
    return original, steps


def _template() -> jinja2.Template:
    text = resources.files("groundtruth").joinpath("templates", "task-image.Dockerfile.j2").read_text()
    template: jinja2.Template = jinja2.Template(text, keep_trailing_newline=True, autoescape=False)
    return template


def _base_tag(spec: ImageSpec) -> str:
    if ":" in spec.base or "/" in spec.base:
        if spec.packages:
            raise GroundtruthError(f"image base {spec.base!r} is a prebuilt image: extra packages need a recipe "
                                   "base (e.g. `sandbox`) to bootstrap them with")
        return spec.base
    if spec.packages:
        return images.recipe_on(spec.base, images.base_with_packages(spec.packages))
    return images.tag_for(spec.base)


def plan(task: Task) -> TaskImage:
    """The image a task runs in, and how to build it; cheap (hashes files, touches no engine)."""
    spec = _spec(task)
    if spec is None:
        return TaskImage(tag=images.resolve(str(task.spec.image)), base=images.resolve(str(task.spec.image)))
    base = _base_tag(spec)
    root_agent = task.spec.sandbox.agent_user == "root"
    if spec.recipe is None and not root_agent:
        return TaskImage(tag=base, base=base, packages=spec.packages)
    context: dict[str, bytes] = {}
    modes: dict[str, int] = {}
    original, source = "", ""
    steps: list[str] = []
    if spec.recipe is not None:
        folder = task.file(f"{spec.recipe}/Dockerfile").parent
        source = f"{task.id}/{spec.recipe}/Dockerfile"
        original, steps = recipe_steps((folder / "Dockerfile").read_text(), source)
        for p in sorted(folder.rglob("*")):
            rel = str(p.relative_to(folder))
            if p.is_file() and rel != "Dockerfile":
                context[rel] = p.read_bytes()
                modes[rel] = p.stat().st_mode & 0o777
    dockerfile = _template().render(task=task.id, source=source, original_from=original, steps=steps,
                                    root_agent=root_agent)
    h = hashlib.sha256(f"{base}\0{dockerfile}".encode())
    for rel in sorted(context):
        h.update(f"\0{rel}\0{modes[rel]:o}\0".encode() + context[rel])
    return TaskImage(tag=f"{images.REPO}/task-{task.id}:{h.hexdigest()[:12]}", base=base, packages=spec.packages,
                     dockerfile=dockerfile, context=context, modes=modes)


_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()
_present: set[str] = set()


def ensure(task: Task, *, force: bool = False, log: images.Log = lambda _: None) -> list[images.ImageBuild]:
    """Build whatever the task's image needs and the engine lacks (one build per tag at a time per process)."""
    p = plan(task)
    with _guard:
        lock = _locks.setdefault(p.tag, threading.Lock())
    with lock:
        if p.tag in _present and not force:
            return []
        out: list[images.ImageBuild] = []
        spec = _spec(task)
        recipe = spec.base if spec is not None else str(task.spec.image)
        if spec is not None and spec.packages:
            out += images.build_with_packages(spec.base, spec.packages, log=log)
        elif ":" not in recipe and "/" not in recipe:
            out.append(images.build(recipe, log=log))
        if p.dockerfile is not None and (force or not images.exists(p.tag)):
            started = time.monotonic()
            log(f"building {p.tag}")
            images.docker_build(p.dockerfile.encode(), p.context, p.tag, buildargs={"BASE": p.base}, modes=p.modes)
            out.append(images.ImageBuild(name=f"task {task.id}", tag=p.tag, built=True,
                                         seconds=time.monotonic() - started, method="task recipe"))
        _present.add(p.tag)
        return out


def tag(task: Task) -> str:
    """The tag of the task's image, built first if the engine does not have it."""
    ensure(task)
    return plan(task).tag


def sandbox_fields(task: Task) -> dict[str, str]:
    """SandboxSpec fields the task decides: its working directory, and who runs the main process (a root agent
    freezes every uid-0 process, so the main process must not be one)."""
    out = {"workdir": task.spec.workdir} if task.spec.workdir else {}
    if task.spec.sandbox.agent_user == "root":
        out["init_user"] = "65534:65534"
    return out
