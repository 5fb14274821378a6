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

from bench_pipeline.execution.images.base import can_build, ensure_base, make_rootfs_tarball
from bench_pipeline.execution.images.common import (
    BASE_REPO,
    BENCH_UID,
    GIT_CONFIG,
    LABEL,
    OPT_BENCH,
    RECIPES,
    ImageInfo,
    Recipe,
    docker_client,
    images_dir,
    recipe_for,
)
from bench_pipeline.execution.images.tools import (
    build_images,
    ensure_image,
    find_binary,
    image_for_tool,
    list_images,
    prune_images,
)

__all__ = [
    "BASE_REPO",
    "BENCH_UID",
    "GIT_CONFIG",
    "LABEL",
    "OPT_BENCH",
    "RECIPES",
    "ImageInfo",
    "Recipe",
    "build_images",
    "can_build",
    "docker_client",
    "ensure_base",
    "ensure_image",
    "find_binary",
    "image_for_tool",
    "images_dir",
    "list_images",
    "make_rootfs_tarball",
    "prune_images",
    "recipe_for",
]
