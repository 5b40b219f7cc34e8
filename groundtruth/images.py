"""Image recipes under `containers/`, tagged by content hash so an unchanged recipe is never rebuilt.

No registry is assumed: the base image is bootstrapped from Debian packages (`debootstrap`, then
`docker import`), and every other recipe is a Dockerfile built FROM it without network access.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

from docker.errors import BuildError, ImageNotFound
from pydantic import BaseModel, Field

from groundtruth.errors import GroundtruthError
from groundtruth.resources import data_dir
from groundtruth.sandbox.engine import LABEL_MANAGED, client

REPO = "groundtruth"
BASE = "base"
Log = Callable[[str], None]


class DebootstrapRecipe(BaseModel):
    suite: str = "bookworm"
    variant: str = "minbase"
    mirror: str = "http://deb.debian.org/debian"
    include: list[str] = Field(default_factory=list)


class ImageBuild(BaseModel):
    name: str
    tag: str
    built: bool
    seconds: float
    method: str


def recipes_dir() -> Path:
    return Path(os.environ.get("GROUNDTRUTH_CONTAINERS_DIR") or data_dir("containers"))


def recipe_names() -> list[str]:
    root = recipes_dir()
    names = [p.name for p in sorted(root.iterdir()) if p.is_dir() and p.name != BASE]
    return [BASE, *names]


def _hash_dir(path: Path, extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def tag_for(name: str) -> str:
    """The content-addressed tag of a recipe; derived images include their base's tag in the hash."""
    root = recipes_dir()
    if not (root / name).is_dir():
        raise GroundtruthError(f"no image recipe {name!r} under {root}; known: {', '.join(recipe_names())}")
    extra = "" if name == BASE else tag_for(BASE)
    return f"{REPO}/{name}:{_hash_dir(root / name, extra)}"


def exists(tag: str) -> bool:
    try:
        client().images.get(tag)
        return True
    except ImageNotFound:
        return False


def resolve(name_or_tag: str) -> str:
    """A task names a recipe (`sandbox`) or a full image reference; recipes map to their current tag."""
    if ":" in name_or_tag or "/" in name_or_tag:
        return name_or_tag
    return tag_for(name_or_tag)


def _load_base_recipe() -> DebootstrapRecipe:
    data = tomllib.loads((recipes_dir() / BASE / "recipe.toml").read_text())
    return DebootstrapRecipe.model_validate(data.get("debootstrap", {}))


def _bootstrap_base(tag: str, log: Log, extra: list[str] | None = None) -> str:
    if shutil.which("debootstrap") is None:
        raise GroundtruthError(
            "debootstrap is not installed: `apt-get install debootstrap`, or build from a registry image with "
            "`groundtruth images build --base-from debian:bookworm-slim`"
        )
    if os.geteuid() != 0:
        raise GroundtruthError("bootstrapping the base image needs root (debootstrap): rerun with sudo")
    recipe = _load_base_recipe()
    include = [*recipe.include, *(extra or [])]
    with tempfile.TemporaryDirectory(prefix="gt-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        cmd = [
            "debootstrap", f"--variant={recipe.variant}", f"--include={','.join(include)}",
            recipe.suite, str(root), recipe.mirror,
        ]
        log(f"bootstrapping {recipe.suite} ({recipe.variant}) with {len(include)} extra packages")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
            raise GroundtruthError(f"debootstrap failed (exit {proc.returncode}); check the mirror:\n{tail}")
        finish = recipes_dir() / BASE / "finish.sh"
        if finish.exists():
            shutil.copy(finish, root / "tmp" / "finish.sh")
            subprocess.run(["chroot", str(root), "/bin/sh", "/tmp/finish.sh"], check=True)
            (root / "tmp" / "finish.sh").unlink()
        log("importing the root filesystem into the engine")
        tar = subprocess.Popen(["tar", "-C", str(root), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(
            ["docker", "import", "--change", f"LABEL {LABEL_MANAGED}=1", "--change", 'CMD ["sleep", "infinity"]',
             "-", tag],
            stdin=tar.stdout, capture_output=True, text=True,
        )
        tar.wait()
        if imp.returncode != 0:
            raise GroundtruthError(f"docker import failed: {imp.stderr.strip()}")
    return "debootstrap"


def _base_from_public(tag: str, public: str, log: Log, extra: list[str] | None = None) -> str:
    recipe = _load_base_recipe()
    dockerfile = (
        f"FROM {public}\n"
        "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
        f"{' '.join([*recipe.include, *(extra or [])])} && rm -rf /var/lib/apt/lists/*\n"
        f"LABEL {LABEL_MANAGED}=1\n"
    )
    log(f"building the base from {public} (needs a registry and network during the build)")
    docker_build(dockerfile.encode(), {}, tag, network="default")
    return f"from {public}"


def docker_build(dockerfile: bytes, context: dict[str, bytes], tag: str, *, network: str = "none",
                  buildargs: dict[str, str] | None = None, modes: dict[str, int] | None = None) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in {"Dockerfile": dockerfile, **context}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = (modes or {}).get(name, 0o644)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    try:
        client().images.build(
            fileobj=buf, custom_context=True, tag=tag, rm=True, forcerm=True, network_mode=network,
            buildargs=buildargs or {}, labels={LABEL_MANAGED: "1"},
        )
    except BuildError as exc:
        lines = [str(c.get("stream", c.get("error", ""))).rstrip() for c in exc.build_log][-10:]
        raise GroundtruthError(f"building {tag} failed: {exc.msg}\n" + "\n".join(lines)) from exc


def build(name: str, *, force: bool = False, base_from: str | None = None, log: Log = lambda _: None) -> ImageBuild:
    """Build one recipe (and the base it needs) unless an image with the same content tag exists."""
    tag = tag_for(name)
    if name != BASE and not exists(tag_for(BASE)):
        build(BASE, base_from=base_from, log=log)
    if exists(tag) and not force:
        return ImageBuild(name=name, tag=tag, built=False, seconds=0.0, method="cached")
    started = time.monotonic()
    public = base_from or os.environ.get("GROUNDTRUTH_BASE_IMAGE")
    if name == BASE:
        method = _base_from_public(tag, public, log) if public else _bootstrap_base(tag, log)
    else:
        folder = recipes_dir() / name
        context = {
            str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()
        }
        dockerfile = context.pop("Dockerfile")
        log(f"building {tag}")
        docker_build(dockerfile, context, tag, buildargs={"BASE": tag_for(BASE)})
        method = "dockerfile"
    return ImageBuild(name=name, tag=tag, built=True, seconds=time.monotonic() - started, method=method)


def base_with_packages(packages: list[str]) -> str:
    """The tag of a base bootstrapped with `packages` besides its own: one dependency resolution over both, so
    the extra packages can never disagree with the base's versions."""
    extra = ",".join(sorted(set(packages)))
    return f"{REPO}/{BASE}-pkgs:{_hash_dir(recipes_dir() / BASE, 'packages=' + extra)}"


def recipe_on(name: str, base_tag: str) -> str:
    """The tag of recipe `name` (e.g. `sandbox`) built FROM another base than the default one."""
    root = recipes_dir()
    if not (root / name).is_dir() or name == BASE:
        raise GroundtruthError(f"no derived image recipe {name!r} under {root}; known: {', '.join(recipe_names()[1:])}")
    return f"{REPO}/{name}-pkgs:{_hash_dir(root / name, base_tag)}"


def build_with_packages(name: str, packages: list[str], *, base_from: str | None = None,
                        log: Log = lambda _: None) -> list[ImageBuild]:
    """Build the base with extra packages, then recipe `name` FROM it; each skipped when its tag exists."""
    out: list[ImageBuild] = []
    base_tag = base_with_packages(packages)
    tag = recipe_on(name, base_tag)
    for step, step_tag in (("base", base_tag), ("recipe", tag)):
        if exists(step_tag):
            out.append(ImageBuild(name=f"{name}+packages", tag=step_tag, built=False, seconds=0.0, method="cached"))
            continue
        started = time.monotonic()
        public = base_from or os.environ.get("GROUNDTRUTH_BASE_IMAGE")
        if step == "base":
            method = (_base_from_public(step_tag, public, log, packages) if public
                      else _bootstrap_base(step_tag, log, packages))
        else:
            folder = recipes_dir() / name
            context = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
            dockerfile = context.pop("Dockerfile")
            log(f"building {step_tag}")
            docker_build(dockerfile, context, step_tag, buildargs={"BASE": base_tag})
            method = "dockerfile"
        out.append(ImageBuild(name=f"{name}+packages", tag=step_tag, built=True,
                              seconds=time.monotonic() - started, method=method))
    return out


def build_all(*, force: bool = False, base_from: str | None = None, log: Log = lambda _: None) -> list[ImageBuild]:
    return [build(n, force=force, base_from=base_from, log=log) for n in recipe_names()]
