# bench-pipeline tool image for jj: the git image (same git binary for jj's git subprocess,
# SPEC §4.4) plus a jj binary taken from the host (PATH, ~/.cargo/bin, or $BENCH_PIPELINE_JJ).
#
# images.py copies the binary into the build context as ./jj. Where none exists, build one with
# `cargo install --locked --bin jj jj-cli` (SPEC §4.3); a binary linked against a newer glibc than
# Debian trixie's fails the smoke test below instead of failing at run time.
ARG BASE
FROM ${BASE}
ARG BENCH_UID=1000

USER root
COPY jj /usr/local/bin/jj
RUN chmod 0755 /usr/local/bin/jj && jj --version

USER ${BENCH_UID}:${BENCH_UID}
