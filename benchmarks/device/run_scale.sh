#!/usr/bin/env bash
# loadgen's scaling measurement on a many-core machine without network (benchmarks/device/scale.py, then
# benchmarks/device/bare_sessions.py), from the checkout's root, with .whl/ filled by benchmarks/device/pack.sh and
# a python3 (3.12) that has pyarrow, numpy, pandas, psutil, pyyaml, rich and xxhash:
#
#   OUT=/some/folder benchmarks/device/run_scale.sh [PER_W ...]      rows per worker; default 20000000 4000000
#
# WORKERS (default "1 4 12"), SESS (workers,sessions per worker,seconds; default 16,64,15) and BARE=0 (skip the
# bare psycopg baseline) shrink it; SITE (default /tmp/site, emptied first), WHEELS (default .whl) and PYTHON
# (default python3) say where. With the defaults it takes ~6 minutes on 16 cores (2 to install and stage, 3
# for the inserts, 1 for the sessions). OUT (default /tmp/scale-out) gets two files: scale.txt (the tables) and
# runs.tar.gz (every run's summary, workers and samples CSVs).
set -euo pipefail
OUT=${OUT:-/tmp/scale-out}
SITE=${SITE:-/tmp/site}
WHEELS=${WHEELS:-.whl}
PY=${PYTHON:-python3}
PER_W=("$@")
[ ${#PER_W[@]} -gt 0 ] || PER_W=(20000000 4000000)
read -r -a WORKER_COUNTS <<<"${WORKERS:-1 4 12}"
SESS=${SESS:-16,64,15}
mkdir -p "$OUT"
start=$SECONDS
WORK=$(mktemp -d /tmp/scale-work.XXXXXX)
trap 'tar -czf "$OUT/runs.tar.gz" -C "$WORK" . && rm -rf "$WORK"' EXIT

rm -rf "$SITE"
PIP_ROOT_USER_ACTION=ignore "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "$WHEELS"/*.whl
# tableauhyperapi travels as a tar.xz of its unpacked wheel (hyperd compressed with xz's x86 filter)
"$PY" -c 'import glob, sys, tarfile
for path in glob.glob(sys.argv[2] + "/tableauhyperapi-*.tar.xz"):
    with tarfile.open(path) as archive:
        archive.extractall(sys.argv[1], filter="data")' "$SITE" "$WHEELS"
export PYTHONPATH=$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}
"$PY" -c 'import hdrh, psycopg, pydantic, tableauhyperapi, loadgen.engine.run, loadgen.workloads.insert.workload'
{
  echo "host: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, /dev/shm $(df -h /dev/shm | awk 'NR == 2 {print $4}') free;" \
    "$("$PY" --version); ulimit -n $(ulimit -n); installed in $((SECONDS - start)) s"
} | tee -a "$OUT/scale.txt"

"$PY" benchmarks/device/scale.py "$OUT" --csv-dir "$WORK" --workers "${WORKER_COUNTS[@]}" --per-w "${PER_W[@]}" --sessions "$SESS"
if [ "${BARE:-1}" != 0 ]; then
  IFS=, read -r sw sk ss <<<"$SESS"
  if [ "$sw" != 0 ]; then
    "$PY" benchmarks/device/bare_sessions.py "$WORK/bare" "$sw" "$sk" "$ss" 2>&1 | tail -3 | tee -a "$OUT/scale.txt"
  fi
fi
echo "run_scale.sh: done in $((SECONDS - start)) s" | tee -a "$OUT/scale.txt"
