#!/usr/bin/env bash
# Regenerate requirements/constraints.txt: one resolution of every extra, pinned, that
# `make test` / `make demo` install against (pip's own resolver backtracks for tens of
# minutes over s3fs/aiobotocore/botocore and dask on this dependency set; pinned, it does
# not search at all). uv resolves in seconds; it is a maintainer's tool here, never a
# dependency: it lives in a throwaway venv.
set -euo pipefail
cd "$(dirname "$0")/.."
tool=$(mktemp -d)
trap 'rm -rf "$tool"' EXIT
python3 -m venv "$tool"
"$tool/bin/pip" install -q uv
find_links=()
[ -d /opt/wheels ] && find_links=(--find-links /opt/wheels)   # the local CPU build of torch
"$tool/bin/uv" pip compile pyproject.toml --extra dev --python-version 3.11 \
  --python-platform x86_64-manylinux_2_28 "${find_links[@]}" --no-header \
  -o requirements/constraints.txt
sed -i '1i # Pinned resolution of all extras; regenerate with scripts/lock.sh (see there why).' \
  requirements/constraints.txt
