#!/usr/bin/env bash
# Fills DIR (default .whl) with what a machine without network needs, beside a Python 3.12 that already has
# pyarrow, numpy, pandas, psutil, pyyaml, rich and xxhash, to run loadgen's insert and mix phases from a checkout
# (benchmarks/device/run_scale.sh installs it there):
#   - the wheels (manylinux x86_64, CPython 3.12) of loadgen's other runtime imports, at the versions installed
#     in this checkout's venv;
#   - tableauhyperapi as one tar.xz of its unpacked wheel: its wheel is ~91 MB, hyperd alone 261 MB unpacked;
#     xz with the x86 filter: 50.1 MiB (tableauhyperapi 0.0.26963), 57 MiB in all, above the 55 MiB this script
#     checks (PACK_LIMIT_MIB=60 lets it pass): what travels to the device machine, the checkout included, must
#     stay under 64 MiB.
# Not packed: plotly, matplotlib, duckdb, tpchgen-cli, tpcgen-cli (reports, TPC-H/TPC-DS: a run of insert and mix
# phases imports none of them). Compressing hyperd takes minutes on 2 cores (an hour on a crowded one): the result is
# kept in PACK_CACHE (default ~/.cache/loadgen-device-pack) for the next run.
#   usage: benchmarks/device/pack.sh [DIR]        (from the checkout's root; PYTHON=… to use another venv)
set -euo pipefail
DIR=${1:-.whl}
PY=${PYTHON:-.venv/bin/python}
LIMIT_MIB=${PACK_LIMIT_MIB:-55}
CACHE=${PACK_CACHE:-$HOME/.cache/loadgen-device-pack}
# (not pycparser: tableauhyperapi loads its precompiled cffi declarations; not pbr: hdrh needs it to install only)
PACKAGES=(cffi psycopg psycopg-binary pydantic pydantic-core annotated-types typing-inspection typing_extensions
          hdrhistogram)

version() { "$PY" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$1"; }
download() {
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d "$@"
}

mkdir -p "$DIR"
rm -f "$DIR"/*.whl "$DIR"/tableauhyperapi-*.tar.xz
pins=()
for name in "${PACKAGES[@]}"; do
  pins+=("$name==$(version "$name")")
done
download "$DIR" "${pins[@]}"

hyper="tableauhyperapi==$(version tableauhyperapi)"
packed="$CACHE/${hyper/==/-}.tar.xz"  # packing takes minutes: kept for the next run
if [ ! -s "$packed" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  download "$work" "$hyper"
  mkdir "$work/unpacked"
  "$PY" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$work"/tableauhyperapi-*.whl \
    "$work/unpacked"
  chmod +x "$work/unpacked/tableauhyperapi/bin/hyper/hyperd" "$work/unpacked/tableauhyperapi/bin/libtableauhyperapi.so"
  # the x86 branch filter makes machine code compress better; four blocks of 80 MiB compressed at once (a few % larger)
  mkdir -p "$CACHE"
  tar -C "$work/unpacked" -cf - . | xz -c -T4 --block-size=80MiB --x86 --lzma2=preset="${XZ_PRESET:-9}" >"$packed.part"
  mv "$packed.part" "$packed"
fi
cp "$packed" "$DIR/"

total=$(du -cb "$DIR"/*.whl "$DIR"/*.tar.xz | tail -1 | cut -f1)
echo "$DIR: $(ls "$DIR" | wc -l) files, $((total / 1048576)) MiB"
if ((total >= LIMIT_MIB * 1048576)); then
  echo "$DIR is ${LIMIT_MIB} MiB or more: too big to travel" >&2
  exit 1
fi
