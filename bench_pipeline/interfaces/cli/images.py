"""``bench-pipeline images``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bench_pipeline.interfaces.cli.app import emit_json, progress


@click.group()
def images() -> None:
    """Tool images for the Docker backend, built locally (no registry needed)."""


@images.command("build")
@click.option(
    "--tool", "tools", multiple=True, help="only these tools (repeatable); default: all with a recipe"
)
@click.option("--json", "as_json", is_flag=True)
def images_build(tools: tuple[str, ...], as_json: bool) -> None:
    """Build missing images (base from debootstrap when nothing can be pulled); existing tags are kept."""
    from bench_pipeline.execution.images import build_images

    with progress(not as_json) as say:
        built = build_images(list(tools) or None, progress=say)
    rows = [_image_row(i) for i in built]
    if as_json:
        emit_json({"images": rows})
        return
    for row in rows:
        click.echo(f"{row['tool']:<14} {row['tag']}")


@images.command("list")
@click.option("--json", "as_json", is_flag=True)
def images_list(as_json: bool) -> None:
    """Images bench-pipeline built on this engine."""
    from bench_pipeline.execution.images import list_images

    rows = [_image_row(i) for i in list_images()]
    if as_json:
        emit_json({"images": rows})
        return
    if not rows:
        click.echo("no images yet: `bench-pipeline images build`")
    for row in rows:
        click.echo(f"{row['tool']:<14} {row['tag']}")


def _image_row(info: Any) -> dict:
    data = info.model_dump() if hasattr(info, "model_dump") else dict(getattr(info, "__dict__", {}))
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}


COMMANDS = [images]
