"""Tool images built without a registry (SPEC §4.3): a Debian base, then one layer per tool.

Base image, first that works: an existing local ``bench-pipeline/base`` image; a pulled
``debian:trixie-slim`` (where a registry answers); otherwise ``debootstrap --variant=minbase
trixie`` from the Debian mirror, the root filesystem cached as a tarball under
``$BENCH_PIPELINE_HOME/images/`` and turned into an image with ``docker import``.

Tool images: ``docker build`` of ``docker/<recipe>.Dockerfile`` ``FROM`` a tag that exists
locally (the classic builder contacts no registry for it). ``git`` is built on the base and
carries Python, the runner (``/opt/bench/runner.py``, ``cgroup.py``) and the static ``bench-exec``
helper; every other recipe (``jj``, or any ``docker/<tool>.Dockerfile``) is built on the git image.

Tags are content-addressed: ``bench-pipeline/<recipe>:<sha256 of the inputs>[:12]``, the inputs
being the Dockerfile, the parent image id, the apt packages with the versions the host's apt
would install, the runner / cgroup / bench-exec sources and, for jj, the binary's digest. A tag
that exists is not rebuilt, so a second ``build_images`` is a no-op.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_pipeline import paths
from bench_pipeline.builds.cache import cached_executable
from bench_pipeline.errors import BackendUnavailable, ToolUnavailable
from bench_pipeline.execution.native import ensure_exec_helper, is_static
from bench_pipeline.execution.native import source_hash as exec_helper_source_hash
from bench_pipeline.files import sha256_file

DOCKER_DIR = paths.PROJECT_ROOT / "docker"
PACKAGE_DIR = Path(__file__).resolve().parent
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


def recipe_for(tool: str) -> Recipe:
    """The recipe whose image runs ``tool`` (git-worktree shares git's image)."""
    name = TOOL_RECIPES.get(tool, tool)
    if name in RECIPES:
        return RECIPES[name]
    if (DOCKER_DIR / f"{name}.Dockerfile").is_file():
        return Recipe(name, "git")
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


# --- content addressing -------------------------------------------------------------------------


def _apt_candidates(packages: tuple[str, ...]) -> dict[str, str]:
    """Versions the host's apt would install, when the host runs the same Debian suite ('' otherwise)."""
    versions = dict.fromkeys(packages, "")
    try:
        release = Path("/etc/os-release").read_text()
    except OSError:
        return versions
    if f"VERSION_CODENAME={SUITE}" not in release or not shutil.which("apt-cache") or not packages:
        return versions
    proc = subprocess.run(["apt-cache", "policy", *packages], capture_output=True, text=True, timeout=60)
    current = None
    for line in proc.stdout.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            current = line[:-1]
        elif current in versions and line.strip().startswith("Candidate:"):
            candidate = line.split(":", 1)[1].strip()
            versions[current] = "" if candidate == "(none)" else candidate
    return versions


def find_binary(name: str) -> Path | None:
    """A host executable to copy into an image: $BENCH_PIPELINE_<NAME>, PATH, ~/.cargo/bin, then the
    tool cache (``bench_pipeline.builds``: what a run built because it was missing)."""
    override = os.environ.get(f"BENCH_PIPELINE_{name.upper()}")
    cached = cached_executable(name)
    candidates = (
        [override]
        if override
        else [shutil.which(name), str(Path.home() / ".cargo" / "bin" / name), str(cached) if cached else None]
    )
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return Path(candidate).resolve()
    return None


def _binary_version(path: Path) -> str:
    try:
        proc = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30)
        return proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else ""
    except (OSError, subprocess.SubprocessError):
        return ""


@dataclass
class _Plan:
    recipe: Recipe
    tag: str
    inputs: dict[str, Any]
    versions: dict[str, str]
    binary: Path | None
    helper: Path | None


def _plan(recipe: Recipe, parent_id: str, bin_dir: Path) -> _Plan:
    inputs: dict[str, Any] = {
        "recipe": recipe.name,
        "dockerfile": sha256_file(recipe.dockerfile),
        "parent": parent_id,
        "uid": BENCH_UID,
    }
    versions: dict[str, str] = {}
    helper: Path | None = None
    binary: Path | None = None
    if recipe.apt_packages:
        versions.update(_apt_candidates(recipe.apt_packages))
        inputs["apt"] = versions
    if recipe.parent is None:  # the runner goes into the image at the bottom of the chain
        inputs["runner"] = {p.name: sha256_file(p) for p in RUNNER_FILES}
        built = ensure_exec_helper(bin_dir)
        helper = built if built is not None and is_static(built) else None
        inputs["bench_exec"] = exec_helper_source_hash() if helper else "none"
    if recipe.binary:
        binary = find_binary(recipe.binary)
        if binary is None:
            raise ToolUnavailable(
                f"no {recipe.binary} binary on this host to put into the {recipe.name} image",
                where=f"PATH, ~/.cargo/bin, $BENCH_PIPELINE_{recipe.binary.upper()}",
                fix=f"install it (jj: cargo install --locked --bin jj jj-cli) or set BENCH_PIPELINE_{recipe.binary.upper()}",
            )
        inputs["binary"] = sha256_file(binary)
        versions[recipe.binary] = _binary_version(binary)
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:12]
    return _Plan(recipe, f"{recipe.repository}:{key}", inputs, versions, binary, helper)


# --- reading what exists --------------------------------------------------------------------------


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


def list_images(client: Any = None) -> list[ImageInfo]:
    """Every image bench-pipeline made on this engine, one entry per tag."""
    client = client or docker_client()
    out: list[ImageInfo] = []
    for image in client.images.list(filters={"label": f"{LABEL}=1"}):
        role = (image.labels or {}).get(f"{LABEL}.role", "tool")
        name = "base" if role == "base" else (image.labels or {}).get(f"{LABEL}.tool", "?")
        out.extend(_info(image, name, tag) for tag in (image.tags or [image.id]))
    return sorted(out, key=lambda i: (i.tool, i.tag))


def _existing_base(client: Any) -> Any | None:
    found = client.images.list(filters={"label": [f"{LABEL}.role=base", f"{LABEL}.suite={SUITE}"]})
    return max(found, key=lambda i: i.attrs.get("Created", "")) if found else None


def _expected_tag(tool: str, client: Any, bin_dir: Path) -> tuple[str | None, bool]:
    """(the tag ``tool``'s image has for the current sources, whether it exists).

    The tag is None when the base or a parent image is not built (its id is part of the key).
    """
    base = _existing_base(client)
    parent_id: str | None = base.id if base is not None else None
    tag: str | None = None
    for recipe in _chain(recipe_for(tool)):
        if parent_id is None:
            return None, False
        tag = _plan(recipe, parent_id, bin_dir).tag
        image = _get(client, tag)
        parent_id = image.id if image is not None else None
    return tag, parent_id is not None


def image_for_tool(tool: str, *, client: Any = None, bin_dir: Path | None = None) -> str | None:
    """The tag ``tool``'s image has for the current sources, if it is built; None otherwise."""
    tag, exists = _expected_tag(tool, client or docker_client(), bin_dir or paths.home() / "bin")
    return tag if exists else None


def _chain(recipe: Recipe) -> list[Recipe]:
    """The recipe and its ancestors, bottom first."""
    chain = [recipe]
    while chain[0].parent is not None:
        chain.insert(0, RECIPES[chain[0].parent])
    return chain


# --- building ------------------------------------------------------------------------------------


@contextmanager
def _build_lock() -> Iterator[None]:
    """One builder at a time per BENCH_PIPELINE_HOME (two would debootstrap twice)."""
    images_dir().mkdir(parents=True, exist_ok=True)
    with open(images_dir() / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_images(
    tools: list[str] | None = None,
    *,
    progress: Callable[[str], None] = print,
    bin_dir: Path | None = None,
    client: Any = None,
) -> list[ImageInfo]:
    """Make sure the base and each tool's image exist; return them (``built`` says which were made).

    ``tools=None`` builds every known recipe, skipping (with a message) those whose host binary
    is missing; a tool named explicitly whose binary is missing raises ``ToolUnavailable``.
    """
    client = client or docker_client()
    bin_dir = bin_dir or paths.home() / "bin"
    names: list[str] = []
    for tool in tools if tools is not None else list(RECIPES):
        for recipe in _chain(recipe_for(tool)):
            if recipe.name not in names:
                names.append(recipe.name)
    with _build_lock():
        base = ensure_base(client, progress=progress)
        results = [base]
        ids = {"": base.image_id}
        tags = {"": base.tag}
        for name in names:
            recipe = recipe_for(name)
            parent = recipe.parent or ""
            if parent not in ids:
                continue  # its parent was skipped
            try:
                plan = _plan(recipe, ids[parent], bin_dir)
            except ToolUnavailable as exc:
                if tools is not None:
                    raise
                progress(f"{name}: skipped ({exc.message})")
                continue
            info = _ensure_tool_image(client, plan, tags[parent], progress)
            results.append(info)
            ids[name], tags[name] = info.image_id, info.tag
    return results


def ensure_image(
    tool: str, *, progress: Callable[[str], None] = print, bin_dir: Path | None = None, client: Any = None
) -> ImageInfo:
    """The image ``tool`` runs in, built (with its parents) when missing."""
    return build_images([tool], progress=progress, bin_dir=bin_dir, client=client)[-1]


def _ensure_tool_image(
    client: Any, plan: _Plan, parent_tag: str, progress: Callable[[str], None]
) -> ImageInfo:
    existing = _get(client, plan.tag)
    if existing is not None:
        return _info(existing, plan.recipe.name, plan.tag)
    progress(f"{plan.recipe.name}: building {plan.tag} FROM {parent_tag}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-image-") as tmp:
        context = Path(tmp)
        shutil.copyfile(plan.recipe.dockerfile, context / "Dockerfile")
        if plan.recipe.parent is None:
            bench = context / "bench"
            bench.mkdir()
            for source in RUNNER_FILES:
                shutil.copyfile(source, bench / source.name)
            if plan.helper:
                shutil.copyfile(plan.helper, bench / "bench-exec")
                os.chmod(bench / "bench-exec", 0o755)
        if plan.binary and plan.recipe.binary:
            shutil.copyfile(plan.binary, context / plan.recipe.binary)
        buildargs = {"BASE": parent_tag, "BENCH_UID": str(BENCH_UID)}
        if plan.recipe.apt_packages:
            buildargs["APT_PACKAGES"] = " ".join(plan.recipe.apt_packages)
        for proxy in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
            if os.environ.get(proxy):
                buildargs[proxy] = os.environ[proxy]
        parent = _get(client, parent_tag) if plan.recipe.parent else None
        parent_labels = (parent.labels or {}) if parent is not None else {}
        labels = {
            LABEL: "1",
            f"{LABEL}.role": "tool",
            f"{LABEL}.tool": plan.recipe.name,
            f"{LABEL}.source": "build",
            f"{LABEL}.inputs": json.dumps(plan.inputs, sort_keys=True),
            f"{LABEL}.versions": json.dumps(
                {**json.loads(parent_labels.get(f"{LABEL}.versions", "{}")), **plan.versions}, sort_keys=True
            ),
            f"{LABEL}.exec-helper": "1"
            if plan.helper or parent_labels.get(f"{LABEL}.exec-helper") == "1"
            else "0",
        }
        _run_build(client, context, plan.tag, buildargs, labels, progress)
    seconds = time.monotonic() - started
    progress(f"{plan.recipe.name}: built {plan.tag} in {seconds:.1f}s")
    image = client.images.get(plan.tag)
    return _info(image, plan.recipe.name, plan.tag, built=True, seconds=seconds)


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


# --- the base image ------------------------------------------------------------------------------


def ensure_base(client: Any, *, progress: Callable[[str], None] = print) -> ImageInfo:
    """The Debian base: existing local one, else pulled, else debootstrapped and imported."""
    existing = _existing_base(client)
    if existing is not None:
        tag = next((t for t in existing.tags if t.startswith(BASE_REPO + ":")), existing.id)
        return _info(existing, "base", tag)
    started = time.monotonic()
    pulled = _try_pull(progress)
    if pulled is not None:
        tag = f"{BASE_REPO}:{SUITE}-pull-{pulled.id.split(':')[-1][:12]}"
        labels = {LABEL: "1", f"{LABEL}.role": "base", f"{LABEL}.suite": SUITE, f"{LABEL}.source": "pull"}
        with tempfile.TemporaryDirectory(prefix="bench-base-") as tmp:
            Path(tmp, "Dockerfile").write_text(f"FROM {PULL_BASE}\n")
            _run_build(client, Path(tmp), tag, {}, labels, progress)
        seconds = time.monotonic() - started
        return _info(client.images.get(tag), "base", tag, built=True, seconds=seconds)
    tarball = images_dir() / f"debian-{SUITE}-minbase.tar.gz"
    if not tarball.exists():
        make_rootfs_tarball(tarball, progress=progress)
    else:
        progress(f"base: reusing cached root filesystem {tarball}")
    digest = sha256_file(tarball)
    tag = f"{BASE_REPO}:{SUITE}-{digest[:12]}"
    progress(f"base: docker import {tarball.name} as {tag}")
    import_started = time.monotonic()
    changes = [
        f"LABEL {LABEL}=1 {LABEL}.role=base {LABEL}.suite={SUITE} {LABEL}.source=debootstrap "
        f"{LABEL}.rootfs-sha256={digest}",
        'CMD ["/bin/bash"]',
    ]
    client.api.import_image_from_file(
        str(tarball), repository=BASE_REPO, tag=tag.split(":", 1)[1], changes=changes
    )
    progress(f"base: imported in {time.monotonic() - import_started:.1f}s")
    return _info(client.images.get(tag), "base", tag, built=True, seconds=time.monotonic() - started)


def _try_pull(progress: Callable[[str], None]) -> Any | None:
    """Pull ``debian:trixie-slim`` with a short timeout; None when no registry answers."""
    try:
        client = docker_client(timeout=PULL_TIMEOUT_S)
        repository, tag = PULL_BASE.split(":")
        image = client.images.pull(repository, tag=tag)
        progress(f"base: pulled {PULL_BASE}")
        return image
    except Exception as exc:  # registry unreachable, DNS, timeout: all mean "build from nothing"
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        progress(f"base: cannot pull {PULL_BASE} ({first}); building from the Debian mirror")
        return None


_NODOC = """\
# bench-pipeline: keep images small, as debian:*-slim does
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
"""


def make_rootfs_tarball(target: Path, *, progress: Callable[[str], None] = print) -> Path:
    """``debootstrap --variant=minbase`` a Debian root filesystem and pack it as ``target`` (tar.gz)."""
    debootstrap = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if os.path.exists("/usr/sbin/debootstrap") else None
    )
    if debootstrap is None:
        raise BackendUnavailable(
            f"no base image: {PULL_BASE} cannot be pulled and debootstrap is not installed",
            fix=f"apt-get install debootstrap (then bench-pipeline images build), or docker load a {PULL_BASE} image",
        )
    if os.geteuid() != 0:
        raise BackendUnavailable(
            "debootstrap must run as root to build the base image",
            fix="run `sudo bench-pipeline images build` once (later runs reuse the image)",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=target.parent))
    rootfs = work / "rootfs"
    log_path = target.parent / "debootstrap.log"
    try:
        progress(
            f"base: debootstrap --variant=minbase {SUITE} from {mirror()} (about a minute; log {log_path})"
        )
        started = time.monotonic()
        with log_path.open("w") as log:
            proc = subprocess.run(
                [debootstrap, "--variant=minbase", SUITE, str(rootfs), mirror()],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if proc.returncode != 0:
            tail = log_path.read_text(errors="replace")[-800:]
            raise BackendUnavailable(
                f"debootstrap failed (exit {proc.returncode}): {tail}",
                where=str(log_path),
                fix="check that the Debian mirror is reachable (BENCH_PIPELINE_DEBIAN_MIRROR)",
            )
        progress(f"base: debootstrap took {time.monotonic() - started:.1f}s")
        for junk in (
            "var/cache/apt/archives",
            "var/lib/apt/lists",
            "usr/share/doc",
            "usr/share/man",
            "usr/share/locale",
            "usr/share/info",
        ):
            for child in (rootfs / junk).glob("*"):
                if child.name in ("lock", "partial"):  # apt's own bookkeeping stays
                    continue
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        base_url = mirror().rstrip("/")
        security = base_url[: -len("/debian")] + "/debian-security" if base_url.endswith("/debian") else None
        sources = [f"deb {base_url} {SUITE} main", f"deb {base_url} {SUITE}-updates main"]
        if security:
            sources.append(f"deb {security} {SUITE}-security main")
        (rootfs / "etc/apt/sources.list").write_text("\n".join(sources) + "\n")
        (rootfs / "etc/apt/apt.conf.d/01bench-pipeline").write_text(
            'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'
        )
        (rootfs / "etc/dpkg/dpkg.cfg.d/01bench-pipeline-nodoc").write_text(_NODOC)
        packed = time.monotonic()
        partial = target.with_suffix(".partial")
        subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-czf", str(partial), "."], check=True)
        os.replace(partial, target)
        progress(
            f"base: packed {target.name} ({target.stat().st_size / 1e6:.0f} MB) in {time.monotonic() - packed:.1f}s"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def can_build(client: Any) -> tuple[bool, str]:
    """Whether ``build_images`` can make a base image here without a registry, and how."""
    if _existing_base(client) is not None:
        return True, "a base image exists"
    if (images_dir() / f"debian-{SUITE}-minbase.tar.gz").exists():
        return True, "a cached root filesystem exists"
    if shutil.which("debootstrap") or os.path.exists("/usr/sbin/debootstrap"):
        if os.geteuid() == 0:
            return True, "debootstrap is installed"
        return False, "debootstrap needs root"
    return False, f"no base image, no cached root filesystem, no debootstrap (and {PULL_BASE} not pulled)"


def prune_images(client: Any = None, *, progress: Callable[[str], None] = print) -> list[str]:
    """Untag tool images that the current sources no longer produce (older runner, Dockerfile, apt).

    Each change of ``runner.py`` makes a new tag (only the top layers are rebuilt, the apt layer
    comes from the build cache); this removes the superseded ones. Recipes whose current tag
    cannot be computed here (no jj binary, say) keep all their images. The base is never removed.
    """
    client = client or docker_client()
    current: dict[str, str] = {}
    for name in RECIPES:
        try:
            tag, _ = _expected_tag(name, client, paths.home() / "bin")
        except ToolUnavailable:
            continue
        if tag:
            current[name] = tag
    removed = []
    for image in client.images.list(filters={"label": f"{LABEL}.role=tool"}):
        recipe = (image.labels or {}).get(f"{LABEL}.tool", "")
        for tag in image.tags:
            if recipe in current and tag != current[recipe]:
                try:
                    client.images.remove(tag)
                except Exception as exc:  # in use by a container, or already gone
                    progress(f"keeping {tag}: {exc}")
                    continue
                removed.append(tag)
                progress(f"removed {tag}")
    return removed
