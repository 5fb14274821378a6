"""Tool images: content-addressed tags (Dockerfile, parent id, apt versions, runner sources, the
tool binary's digest) and ``docker build`` of ``docker/<recipe>.Dockerfile`` on the parent image."""

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
from bench_pipeline.errors import ToolUnavailable
from bench_pipeline.execution.images.base import ensure_base
from bench_pipeline.execution.images.common import (
    BENCH_UID,
    BUILT,
    LABEL,
    RECIPES,
    RUNNER_FILES,
    SUITE,
    ImageInfo,
    Recipe,
    _existing_base,
    _get,
    _info,
    _run_build,
    docker_client,
    images_dir,
    recipe_for,
)
from bench_pipeline.execution.native import ensure_exec_helper, is_static
from bench_pipeline.execution.native import source_hash as exec_helper_source_hash
from bench_pipeline.files import sha256_file

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


def find_binary(name: str, build_dirs: tuple[Path, ...] = ()) -> Path | None:
    """A host executable to copy into an image: from ``build_dirs`` (the tool cache entry of the
    revision a run measures) when given, else $BENCH_PIPELINE_<NAME>, PATH, ~/.cargo/bin, then the
    tool cache (``bench_pipeline.builds``: what a run built because it was missing)."""
    if build_dirs:
        found = [d / name for d in build_dirs if (d / name).is_file() and os.access(d / name, os.X_OK)]
        return found[0].resolve() if found else None
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
    build_bins: dict[str, Path] = field(default_factory=dict)  # the built recipe: name -> executable
    from_build: bool = False  # the binaries come from a build in the tool cache (a revision)


def _build_executables(build_dirs: tuple[Path, ...]) -> dict[str, Path]:
    return {
        p.name: p.resolve()
        for d in reversed(build_dirs)  # the first directory wins, as on PATH
        if d.is_dir()
        for p in sorted(d.iterdir())
        if p.is_file() and os.access(p, os.X_OK)
    }


def _plan(recipe: Recipe, parent_id: str, bin_dir: Path, build_dirs: tuple[Path, ...] = ()) -> _Plan:
    """What ``recipe``'s image is made of, and its content-addressed tag. ``build_dirs``: the tool
    cache entry of a built tool (a revision): its executables are the ones copied into the image."""
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
    build_bins: dict[str, Path] = {}
    if recipe.name == BUILT.name:
        build_bins = _build_executables(build_dirs)
        if not build_bins:
            raise ToolUnavailable(
                f"no built executables in {', '.join(map(str, build_dirs)) or '(no build)'} for the built image",
                fix="build the tool first: bench-pipeline build --suite SUITE --tool TOOL@REV",
            )
        inputs["binaries"] = {name: sha256_file(path) for name, path in build_bins.items()}
        versions.update({name: _binary_version(path) for name, path in build_bins.items()})
    if recipe.binary:
        binary = find_binary(recipe.binary, build_dirs)
        if binary is None and build_dirs:
            raise ToolUnavailable(
                f"the build in {', '.join(map(str, build_dirs))} has no {recipe.binary} executable",
                fix="rebuild it: bench-pipeline build --suite SUITE --tool TOOL@REV",
            )
        if binary is None:
            raise ToolUnavailable(
                f"no {recipe.binary} binary on this host to put into the {recipe.name} image",
                where=f"PATH, ~/.cargo/bin, $BENCH_PIPELINE_{recipe.binary.upper()}",
                fix=f"install it (jj: cargo install --locked --bin jj jj-cli) or set BENCH_PIPELINE_{recipe.binary.upper()}",
            )
        inputs["binary"] = sha256_file(binary)
        versions[recipe.binary] = _binary_version(binary)
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:12]
    return _Plan(
        recipe,
        f"{recipe.repository}:{key}",
        inputs,
        versions,
        binary,
        helper,
        build_bins,
        from_build=bool(build_dirs),
    )


# --- reading what exists --------------------------------------------------------------------------


def list_images(client: Any = None) -> list[ImageInfo]:
    """Every image bench-pipeline made on this engine, one entry per tag."""
    client = client or docker_client()
    out: list[ImageInfo] = []
    for image in client.images.list(filters={"label": f"{LABEL}=1"}):
        role = (image.labels or {}).get(f"{LABEL}.role", "tool")
        name = "base" if role == "base" else (image.labels or {}).get(f"{LABEL}.tool", "?")
        out.extend(_info(image, name, tag) for tag in (image.tags or [image.id]))
    return sorted(out, key=lambda i: (i.tool, i.tag))


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
    build_dirs: tuple[Path, ...] = (),
) -> list[ImageInfo]:
    """Make sure the base and each tool's image exist; return them (``built`` says which were made).

    ``tools=None`` builds every known recipe, skipping (with a message) those whose host binary
    is missing; a tool named explicitly whose binary is missing raises ``ToolUnavailable``.
    ``build_dirs``: the tool cache entry of the (one) tool's build — a revision such as ``jj@0.44.0``:
    its executables go into the tool's image, which therefore exists once per revision.
    """
    client = client or docker_client()
    bin_dir = bin_dir or paths.home() / "bin"
    names: list[str] = []
    tops: set[str] = set()
    for tool in tools if tools is not None else list(RECIPES):
        chain = _chain(recipe_for(tool, built=bool(build_dirs)))
        tops.add(chain[-1].name)
        for recipe in chain:
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
                plan = _plan(recipe, ids[parent], bin_dir, build_dirs if name in tops else ())
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
    tool: str,
    *,
    progress: Callable[[str], None] = print,
    bin_dir: Path | None = None,
    client: Any = None,
    build_dirs: tuple[Path, ...] = (),
) -> ImageInfo:
    """The image ``tool`` runs in, built (with its parents) when missing; with ``build_dirs``, the
    image of that build (``build_images``)."""
    return build_images([tool], progress=progress, bin_dir=bin_dir, client=client, build_dirs=build_dirs)[-1]


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
        if plan.build_bins:
            (context / "bin").mkdir()
            for name, path in plan.build_bins.items():
                shutil.copyfile(path, context / "bin" / name)
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
            f"{LABEL}.from-build": "1" if plan.from_build else "0",
            f"{LABEL}.exec-helper": "1"
            if plan.helper or parent_labels.get(f"{LABEL}.exec-helper") == "1"
            else "0",
        }
        _run_build(client, context, plan.tag, buildargs, labels, progress)
    seconds = time.monotonic() - started
    progress(f"{plan.recipe.name}: built {plan.tag} in {seconds:.1f}s")
    image = client.images.get(plan.tag)
    return _info(image, plan.recipe.name, plan.tag, built=True, seconds=seconds)


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
        if (image.labels or {}).get(f"{LABEL}.from-build") == "1":
            continue  # a revision's image (tool@rev): its tag follows its build, not the host's binary
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
