"""The move journal (``tier_moves``) and the file registry (``tier_files``): what makes every move
crash-safe. A move is journalled ``started``, its files are written and verified (``written``), and one
transaction deletes the source rows, registers the files, retires the ones they replace, rebuilds the
views and marks it ``done``; the next session cleans up after a move killed before that commit."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from bench_pipeline.files import sha256_file
from bench_pipeline.ops.tiering.files import TierFile, fsync, pause_at, sql_literal
from bench_pipeline.ops.tiering.settings import TierError
from bench_pipeline.store import Store


def one_row(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> tuple[Any, ...]:
    """The single row of an aggregate query."""
    row = con.execute(sql, params or []).fetchone()
    assert row is not None, sql
    return row


def verify_tiers(store: Store | None = None) -> list[str]:
    """Problems with the registered tier files (missing, wrong size, checksum or row count); [] if none."""
    store = store or Store()
    home = store.path.parent
    problems = []
    with store.connect(read_only=True) as con:
        rows = con.execute("SELECT path, rows, bytes, sha256 FROM tier_files ORDER BY path").fetchall()
        for rel, n_rows, n_bytes, digest in rows:
            path = home / rel
            if not path.exists():
                problems.append(f"{rel}: missing")
                continue
            if path.stat().st_size != n_bytes or sha256_file(path) != digest:
                problems.append(f"{rel}: checksum mismatch")
                continue
            found = one_row(con, "SELECT count(*) FROM read_parquet(?)", [str(path)])[0]
            if found != n_rows:
                problems.append(f"{rel}: {found} rows, {n_rows} registered")
    return problems


class Journal:
    """One tier session: the DuckDB write connection and the tier directory, under the tier lock; the
    journal and registry steps every move takes (:class:`~bench_pipeline.ops.tiering.mover.Mover`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, home: Path) -> None:
        self.con = con
        self.home = home
        self.root = home / "tiers"

    # ------------------------------------------------------------------ journal and recovery
    def recover(self) -> list[str]:
        """Clean up after interrupted moves: delete their files, mark them abandoned; finish retirements."""
        recovered = []
        for move_id, state, retired in self.con.execute(
            "SELECT move_id, state, retired FROM tier_moves "
            "WHERE state IN ('started', 'written') OR (state = 'done' AND retired IS NOT NULL) ORDER BY move_id"
        ).fetchall():
            if state == "done":  # killed after its commit: finish deleting the files it replaced
                self._delete_retired(json.loads(retired) if retired else [])
                self.con.execute("UPDATE tier_moves SET retired = NULL WHERE move_id = ?", [move_id])
                continue
            for path in self.root.rglob(f"*{move_id}*"):
                path.unlink(missing_ok=True)
            self.con.execute(
                "UPDATE tier_moves SET state = 'abandoned', finished_at = ?, "
                "message = 'interrupted; its files were removed, its source rows were never deleted' "
                "WHERE move_id = ?",
                [datetime.now(UTC), move_id],
            )
            recovered.append(move_id)
        for tmp in self.root.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        return recovered

    def _delete_retired(self, retired: list[str]) -> None:
        registered = {r[0] for r in self.con.execute("SELECT path FROM tier_files").fetchall()}
        for rel in retired:
            if rel not in registered:
                (self.home / rel).unlink(missing_ok=True)

    def _start(self, kind: str, as_of: date) -> str:
        move_id = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{kind}-{uuid.uuid4().hex[:8]}"
        self.con.execute(
            "INSERT INTO tier_moves (move_id, kind, as_of, state, started_at) VALUES (?, ?, ?, 'started', ?)",
            [move_id, kind, as_of, datetime.now(UTC)],
        )
        return move_id

    # ------------------------------------------------------------------ files
    def _write(
        self,
        select_sql: str,
        params: list[Any],
        rel: str,
        *,
        tier: str,
        kind: str,
        period: str,
        level: int,
        expected_rows: int,
        pause: str,
        read_only: bool = False,
    ) -> TierFile:
        """COPY a query to ``rel``: temporary file → fsync → rename → verify rows and SHA-256."""
        dest = self.home / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        self.con.execute(
            f"COPY ({select_sql}) TO {sql_literal(tmp)} "
            f"(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL {int(level)})",
            params,
        )
        pause_at(pause)
        fsync(tmp)
        digest = sha256_file(tmp)
        os.replace(tmp, dest)
        fsync(dest.parent)
        if read_only:
            dest.chmod(0o444)
        rows, lo, hi = self._file_rows(dest, kind)
        if rows != expected_rows or sha256_file(dest) != digest:
            raise TierError(
                f"{rel}: verification failed ({rows} rows written, {expected_rows} expected)",
                fix="nothing was moved; check the disk and run `bench-pipeline tier` again",
            )
        return TierFile(rel, tier, kind, period, rows, dest.stat().st_size, digest, lo, hi)

    def _file_rows(self, path: Path, kind: str) -> tuple[int, datetime | None, datetime | None]:
        if kind == "cells":
            sql = "SELECT count(*), min(started_at), max(started_at) FROM read_parquet(?)"
        else:
            sql = "SELECT count(*), NULL, NULL FROM read_parquet(?)"
        rows, lo, hi = one_row(self.con, sql, [str(path)])
        return int(rows), lo, hi

    def _register(self, files: list[TierFile], move_id: str) -> None:
        now = datetime.now(UTC)
        for f in files:
            self.con.execute(
                "INSERT INTO tier_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    f.rel,
                    f.tier,
                    f.kind,
                    f.period,
                    f.rows,
                    f.bytes,
                    f.sha256,
                    f.min_started_at,
                    f.max_started_at,
                    move_id,
                    now,
                ],
            )

    def _cells_files(self, tier: str, period: str) -> list[str]:
        return [
            r[0]
            for r in self.con.execute(
                "SELECT path FROM tier_files WHERE tier = ? AND kind = 'cells' AND period = ? ORDER BY path",
                [tier, period],
            ).fetchall()
        ]

    def rebuild_views(self) -> None:
        """Point ``tier_cells`` / ``tier_raw_samples`` at exactly the registered files (inside a transaction)."""
        for view, kind in (("tier_cells", "cells"), ("tier_raw_samples", "samples")):
            files = [
                self.home / r[0]
                for r in self.con.execute(
                    "SELECT path FROM tier_files WHERE kind = ? ORDER BY path", [kind]
                ).fetchall()
            ]
            if not files:
                continue  # the migration's empty definition stays
            listing = ", ".join(sql_literal(p) for p in files)
            self.con.execute(
                f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM read_parquet([{listing}], union_by_name = true)"
            )

    def _finish(
        self,
        move_id: str,
        *,
        files: list[TierFile],
        retired: list[str],
        counts: dict[str, int],
        statements: list[tuple[str, list[Any], int | None]],
        pause: str,
    ) -> None:
        """The one transaction: delete the source rows, register the new files, retire the ones they
        replace, rebuild the views and mark the move done. ``statements`` are (sql, params, expected
        count of affected rows or None)."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            for sql, params, expected in statements:
                affected = one_row(self.con, sql, params)[0]
                if expected is not None and affected != expected:
                    raise TierError(
                        f"the source changed during the move ({affected} rows affected, {expected} expected)",
                        fix="nothing was moved; run `bench-pipeline tier` again",
                    )
            if retired:
                self.con.execute("DELETE FROM tier_files WHERE list_contains(?, path)", [retired])
            self._register(files, move_id)
            self.con.execute(
                "UPDATE tier_moves SET state = 'done', finished_at = ?, runs = ?, cells = ?, samples = ?, "
                "raw_samples = ?, retired = ? WHERE move_id = ?",
                [
                    datetime.now(UTC),
                    counts.get("runs", 0),
                    counts.get("cells", 0),
                    counts.get("samples", 0),
                    counts.get("raw_samples", 0),
                    json.dumps(retired) if retired else None,
                    move_id,
                ],
            )
            self.rebuild_views()
            pause_at(pause)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def _after_commit(self, move_id: str, retired: list[str], pause: str) -> None:
        pause_at(pause)
        self._delete_retired(retired)
        if retired:
            self.con.execute("UPDATE tier_moves SET retired = NULL WHERE move_id = ?", [move_id])
        self.write_manifests()

    def write_manifests(self) -> None:
        """``tiers/<tier>/manifest.json``: every registered file of the tier with rows, bytes, SHA-256."""
        for tier in ("warm", "cold", "raw"):
            rows = self.con.execute(
                "SELECT path, kind, period, rows, bytes, sha256, move_id, created_at FROM tier_files "
                "WHERE tier = ? ORDER BY path",
                [tier],
            ).fetchall()
            if not rows and not (self.root / tier).exists():
                continue
            manifest = {
                "tier": tier,
                "generated_at": datetime.now(UTC).isoformat(),
                "rows": sum(r[3] for r in rows),
                "files": [
                    {
                        "path": str(Path(r[0]).relative_to(f"tiers/{tier}")),
                        "kind": r[1],
                        "period": r[2],
                        "rows": r[3],
                        "bytes": r[4],
                        "sha256": r[5],
                        "move_id": r[6],
                        "created_at": r[7].isoformat(),
                    }
                    for r in rows
                ],
            }
            target = self.root / tier / "manifest.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(".manifest.json.tmp")
            tmp.write_text(json.dumps(manifest, indent=2) + "\n")
            fsync(tmp)
            os.replace(tmp, target)

    def _has_table(self, name: str) -> bool:
        return bool(
            self._count("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary", [name])
        )

    def _count(self, sql: str, params: list[Any] | None = None) -> int:
        return int(one_row(self.con, sql, params)[0])

    def _rows_in(self, rels: list[str]) -> int:
        return sum(self._count("SELECT count(*) FROM read_parquet(?)", [str(self.home / r)]) for r in rels)
