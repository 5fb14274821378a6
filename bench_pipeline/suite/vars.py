"""The template variables a suite's commands may use (``{repo}``, ``{feature}`` …).

Two kinds: the run's own (:data:`BUILTIN_VARS`: where the command runs, which tool, which
operation …) and the ones every generated fixture provides (:data:`FIXTURE_VARS`, with their
meaning; ``bench_pipeline.fixtures`` fills them in for each repository it builds). The suite loader
refuses a command that names anything else.
"""

from __future__ import annotations

BUILTIN_VARS = frozenset({"repo", "root", "work", "src", "seed", "tool", "operation", "fixture"})

# The names every fixture defines in Fixture.vars, with their meaning.
FIXTURE_VARS: dict[str, str] = {
    "main": "the main branch name",
    "head": "full hash of main's tip (never a merge commit)",
    "feature": "branch forked from main~3 with 3 commits of its own; merges into main cleanly",
    "base_commit": "fork point of feature (main~3)",
    "pick_commit": "feature's tip: one commit that cherry-picks cleanly onto main",
    "ff_branch": "branch 2 commits ahead of main's tip: `git merge --ff-only` works",
    "stack_branch": "stack of 3 commits forked from main~20, rebases onto main cleanly",
    "stack_base": "fork point of stack_branch (main~20)",
    "conflict_branch": "one commit changing the same lines of conflict_path as main's tip: merging conflicts",
    "conflict_path": "the file both main's tip and conflict_branch edit",
    "tag": "an annotated tag on main (the first one)",
    "old_commit": "main~10, not a merge; reverting, dropping or rewording it replays cleanly",
    "old_commit_parent": "first parent of old_commit (main~11)",
    "path": "a file edited in many commits (log -- path, blame); exists in every commit since the first",
    "dir": "the top-level directory holding path (sparse checkout)",
    "grep_word": "a word found by `git grep` in main's tree",
    "pickaxe": "a string added in exactly one commit (`git log -S`) and never changed",
    "pickaxe_commit": "the commit that adds pickaxe",
    "author": "an author name present in history",
    "message_word": "a word present in some commit messages",
}

KNOWN_VARS = BUILTIN_VARS | frozenset(FIXTURE_VARS)
