"""The base image without a registry: a local ``bench-pipeline/base``, a pulled ``debian:trixie-slim``,
or ``debootstrap --variant=minbase`` from the Debian mirror turned into an image by ``docker import``."""

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_pipeline.errors import BackendUnavailable
from bench_pipeline.execution.images.common import (
    BASE_REPO,
    LABEL,
    PULL_BASE,
    PULL_TIMEOUT_S,
    SUITE,
    ImageInfo,
    _existing_base,
    _info,
    _run_build,
    docker_client,
    images_dir,
    mirror,
)
from bench_pipeline.files import sha256_file

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
        # in this build's own work directory: two builds at once (two test workers, two shells)
        # must not write one tarball together; the last rename wins, and either is whole
        partial = work / (target.name + ".partial")
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
    return False, (
        f"no base image to build on ({PULL_BASE} not pulled, no cached root filesystem) and no "
        "debootstrap to make one: `apt-get install debootstrap` lets the next run build the images"
    )
