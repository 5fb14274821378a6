"""What every image shares: the recipes, the labels and paths inside images, the Docker client,
and reading the images that exist."""

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_pipeline import paths
from bench_pipeline.errors import BackendUnavailable, ToolUnavailable
from bench_pipeline.suite.build import split_tool

DOCKER_DIR = paths.PROJECT_ROOT / "docker"
PACKAGE_DIR = Path(__file__).resolve().parent.parent  # bench_pipeline/execution
RUNNER_FILES = (PACKAGE_DIR / "runner.py", PACKAGE_DIR / "cgroup.py")

LABEL = "bench-pipeline"  # every image and container we create carries bench-pipeline=1
# Debian 13: its git (2.47) is new enough for jj's git subprocess (jj 0.45 needs git >= 2.41;
# bookworm has 2.39) and is the same version as a current host git.
SUITE = "trixie"
PULL_BASE = "debian:trixie-slim"
BASE_REPO = "bench-pipeline/base"
BENCH_UID = 1000
OPT_BENCH = "/opt/bench"  # where the runner lives inside every tool image
GIT_CONFIG = f"{OPT_BENCH}/gitconfig"  # global git config of measured commands: [safe] directory = *
PULL_TIMEOUT_S = 30


def mirror() -> str:
    return os.environ.get("BENCH_PIPELINE_DEBIAN_MIRROR", "http://deb.debian.org/debian")


@dataclass(frozen=True)
class Recipe:
    """How to build one image: its Dockerfile, what it is built on, what it installs."""

    name: str  # image repository bench-pipeline/<name>, Dockerfile docker/<name>.Dockerfile
    parent: str | None  # recipe this one is built FROM; None: the base image
    apt_packages: tuple[str, ...] = ()
    binary: str | None = None  # a host executable copied into the build context under this name

    @property
    def dockerfile(self) -> Path:
        return DOCKER_DIR / f"{self.name}.Dockerfile"

    @property
    def repository(self) -> str:
        return f"bench-pipeline/{self.name}"


RECIPES = {
    "git": Recipe("git", None, ("python3", "git")),
    "jj": Recipe("jj", "git", binary="jj"),
}
TOOL_RECIPES = {"git": "git", "git-worktree": "git", "jj": "jj"}
# a tool built from its suite recipe (bench_pipeline.builds) without a Dockerfile of its own: the git
# image plus every executable of the build (docker/built.Dockerfile), one image per revision
BUILT = Recipe("built", "git")


@dataclass(frozen=True)
class ImageInfo:
    tool: str  # recipe name: "base", "git", "jj", …
    tag: str
    image_id: str
    size_bytes: int
    built: bool = False  # built by this call (False: it existed)
    seconds: float = 0.0  # time this call spent building it
    source: str = "build"  # base: "debootstrap" / "pull"; tools: "build"
    exec_helper: bool = False  # /opt/bench/bench-exec present
    versions: dict[str, str] = field(default_factory=dict)


def recipe_for(tool: str, built: bool = False) -> Recipe:
    """The recipe whose image runs ``tool`` (git-worktree shares git's image; a revision ``jj@0.44.0``
    jj's). ``built``: the tool comes from the tool cache, so a tool without a Dockerfile of its own
    gets the generic ``built`` recipe."""
    name = TOOL_RECIPES.get(split_tool(tool)[0], split_tool(tool)[0])
    if name in RECIPES:
        return RECIPES[name]
    if (DOCKER_DIR / f"{name}.Dockerfile").is_file():
        return Recipe(name, "git")
    if built:
        return BUILT
    raise ToolUnavailable(
        f"no image recipe for tool {tool!r}",
        where=str(DOCKER_DIR),
        fix=f"add docker/{name}.Dockerfile (built FROM the git image: ARG BASE / FROM ${{BASE}}), "
        f"or use --backend local",
    )


def docker_client(timeout: int = 60) -> Any:
    """A Docker SDK client for the engine of the environment (DOCKER_HOST), or BackendUnavailable."""
    try:
        import docker

        # (mypy may resolve "docker" to the project's docker/ folder of Dockerfiles)
        client = docker.from_env(timeout=timeout)  # type: ignore[attr-defined]
        client.ping()
        return client
    except Exception as exc:  # DockerException, requests errors, missing socket …
        raise BackendUnavailable(
            f"no Docker engine answers: {exc}",
            where=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"),
            fix="start the Docker engine (or set DOCKER_HOST), or use --backend local",
        ) from None


def images_dir() -> Path:
    return paths.home() / "images"


def _info(image: Any, tool: str, tag: str | None = None, **extra: Any) -> ImageInfo:
    labels = image.labels or {}
    return ImageInfo(
        tool=tool,
        tag=tag or (image.tags[0] if image.tags else image.id),
        image_id=image.id,
        size_bytes=int(image.attrs.get("Size", 0)),
        source=labels.get(f"{LABEL}.source", "build"),
        exec_helper=labels.get(f"{LABEL}.exec-helper") == "1",
        versions=json.loads(labels.get(f"{LABEL}.versions", "{}")),
        **extra,
    )


def _get(client: Any, tag: str) -> Any | None:
    import docker.errors

    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None


def _existing_base(client: Any) -> Any | None:
    found = client.images.list(filters={"label": [f"{LABEL}.role=base", f"{LABEL}.suite={SUITE}"]})
    return max(found, key=lambda i: i.attrs.get("Created", "")) if found else None


def _run_build(
    client: Any,
    context: Path,
    tag: str,
    buildargs: dict[str, str],
    labels: dict[str, str],
    progress: Callable[[str], None],
) -> None:
    import docker.errors

    log: list[str] = []
    try:
        # network "host": apt in the build reaches the mirror exactly as the host does
        stream = client.api.build(
            path=str(context),
            dockerfile="Dockerfile",
            tag=tag,
            buildargs=buildargs,
            labels=labels,
            rm=True,
            forcerm=True,
            pull=False,
            network_mode="host",
            decode=True,
        )
        for chunk in stream:
            if "error" in chunk:
                raise BackendUnavailable(
                    f"building {tag} failed: {chunk['error'].strip()}",
                    where=f"docker build ({context.name})",
                    fix="see the build log above; the Debian mirror must be reachable "
                    "(BENCH_PIPELINE_DEBIAN_MIRROR / http_proxy)",
                )
            text = chunk.get("stream", "")
            log.append(text)
            if text.startswith("Step "):
                progress(f"  {text.strip()}")
    except docker.errors.APIError as exc:
        raise BackendUnavailable(f"building {tag} failed: {exc}", fix="".join(log)[-500:] or None) from None
