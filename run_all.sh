#!/usr/bin/env bash
# Reproduce every table and figure, or run the tests. See README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

usage() {
  cat <<'EOF'
Usage: ./run_all.sh [--profile tiny|sd14] [--smoke] [--only NN]
       ./run_all.sh test [--only NN]

Without a command: set up .venv if needed, then run every notebooks/NN_*.ipynb in order with
papermill, in place (the executed outputs are what readers see), regenerating figures/ and
data/results/.

  --profile P   tiny (default: CPU, offline, minutes) or sd14 (Stable Diffusion v1.4, one GPU)
  --smoke       a quick check that everything runs: tiny replays every table from the committed result
                store, figures use tiny sizes; sd14 runs every cell at the smallest sizes (on random weights
                when SD v1.4 is not on this machine); nothing is written over the notebooks or results (the
                executed notebooks are kept in .cache/smoke/notebooks/<profile>/)
  --only NN     run only the notebook whose name starts with NN (e.g. --only 01)
  -h, --help    this help

Every table's results are stored in data/results/store/ (committed with the notebooks). A full run
(without --only) removes the entries no notebook asked for. On sd14 the notebooks take the parameters of
notebooks/parameters/sd14.yaml, and a full run writes its notebooks to notebooks/sd14/, its figures to
figures/sd14/ and its tables and store to data/results/sd14/ (the tiny results stay as they are).

test: set up .venv if needed, run pytest (unit tests, then nbval over the notebooks: every table
replayed from the committed store and compared with the committed output), then ruff. A table whose
code changed since it was computed fails with the notebook to re-run. With --only NN: nbval over that
notebook alone. Exits non-zero on any failure, and when no test ran.
EOF
}

mode=run
profile=tiny
smoke=False
only=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    test) mode=test ;;
    --profile) profile="${2:?--profile needs tiny or sd14}"; shift ;;
    --profile=*) profile="${1#*=}" ;;
    --smoke) smoke=True ;;
    --only) only="${2:?--only needs a notebook number, e.g. 01}"; shift ;;
    --only=*) only="${1#*=}" ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_all.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
case "$profile" in
  tiny|sd14) ;;
  *) echo "run_all.sh: unknown profile '$profile' (use tiny or sd14)" >&2; exit 2 ;;
esac
shopt -s nullglob
notebooks=(notebooks/[0-9][0-9]_*.ipynb)
[[ -n "$only" ]] && notebooks=(notebooks/"$only"_*.ipynb)
if [[ ${#notebooks[@]} -eq 0 && ( "$mode" == run || -n "$only" ) ]]; then
  echo "run_all.sh: no notebook matches notebooks/${only:-NN}_*.ipynb; choose one of:" \
       "$(cd notebooks && ls [0-9][0-9]_*.ipynb | cut -c1-2 | tr '\n' ' ')" >&2
  exit 2
fi

find_python() {
  for py in "${PYTHON:-}" python3.11 python3 python; do
    [[ -n "$py" ]] && command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  echo "run_all.sh: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

# Create .venv if missing; (re)install the package whenever pyproject.toml changed.
setup_venv() {
  if [[ ! -x .venv/bin/python ]]; then
    local py
    py=$(find_python)
    echo "run_all.sh: creating .venv with $py" >&2
    "$py" -m venv .venv
  fi
  local want stamp=.venv/.erasure-installed
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]] || ! .venv/bin/python -c 'import erasure' 2>/dev/null; then
    echo "run_all.sh: installing the package and its pinned dependencies into .venv" >&2
    # pip compiles the packages' bytecode one file at a time; compileall does it on every core, 40 s sooner on
    # 2 (and this machine's PYTHONDONTWRITEBYTECODE would otherwise leave every import uncompiled). Like pip, it
    # skips a file that does not compile on 3.11 (torch ships one for 3.12), hence `|| true`.
    .venv/bin/python -m pip install --disable-pip-version-check --no-compile -q -e '.[dev]'
    .venv/bin/python -m compileall -q -j 0 "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
      >/dev/null 2>&1 || true
    .venv/bin/python -m ipykernel install --sys-prefix --name erasure --display-name "Python 3 (erasure)" >/dev/null
    echo "$want" > "$stamp"
  fi
}

setup_venv
if [[ "$profile" == tiny ]]; then
  # The tiny profile is offline by construction: nothing may touch the network.
  export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
fi

# The test suite and a tiny --smoke replay every table from the committed store (a missing or stale entry is
# an error, never recomputed), and keep the small models their figures train apart from the real ones. An sd14
# smoke run computes everything afresh, in a store of its own that starts empty.
if [[ "$profile" == sd14 && "$smoke" == True ]]; then
  rm -rf .cache/smoke/sd14
  export ERASURE_STORE="$PWD/.cache/smoke/sd14/store" ERASURE_MODEL_STORE="$PWD/.cache/smoke/sd14/models"
elif [[ "$mode" == test || "$smoke" == True ]]; then
  export ERASURE_REPLAY=1 ERASURE_MODEL_STORE="$PWD/.cache/smoke/models"
elif [[ "$profile" == sd14 ]]; then
  export ERASURE_STORE="$PWD/data/results/sd14/store" ERASURE_MODEL_STORE="$PWD/.cache/sd14/erased-models"
fi

if [[ "$mode" == test ]]; then
  export ERASURE_SMOKE=1
  nbval=(--nbval-lax --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg)
  if [[ -n "$only" ]]; then
    .venv/bin/python -m pytest "${notebooks[@]}" "${nbval[@]}" -p no:cacheprovider
    exit 0
  fi
  # Two workers of one thread each (pytest-xdist): on 2 cores this beats one process of two threads, whose
  # small tensor operations scale poorly; each test file and each notebook stays whole on one worker, in order,
  # and the files start in conftest.py's order (the longest first) rather than xdist's (the most tests first).
  OMP_NUM_THREADS=1 .venv/bin/python -m pytest tests notebooks --ignore=notebooks/sd14 "${nbval[@]}" -p no:cacheprovider \
    -n "${ERASURE_TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder
  .venv/bin/ruff check .
  exit 0
fi

# Seconds per notebook, written by the run itself (a full run only): one row per notebook, replaced when
# that notebook runs again; written to a temporary file, then renamed.
record_cost() {
  local name=$1 seconds=$2 folder=data/results
  [[ "$profile" == tiny ]] || folder="data/results/$profile"
  local file="$folder/cost.csv" tmp
  mkdir -p "$folder"
  tmp=$(mktemp "$folder/.cost.csv.XXXXXX")
  {
    echo "notebook,seconds,profile,finished_utc,cores"
    { if [[ -f "$file" ]]; then tail -n +2 "$file" | grep -v "^$name," || true; fi; echo "$name,$seconds,$profile,$(date -u +%FT%TZ),$(nproc)"; } | sort
  } > "$tmp"
  mv "$tmp" "$file"
}

# The library's inner progress bars (training iterations, statistics) would be stored, refresh by
# refresh, in the executed notebooks' outputs; papermill's per-cell bar shows progress instead.
export TQDM_DISABLE=1
mkdir -p .cache/failed
# A full run lists the store entries its notebooks ask for; the others are removed at the end.
if [[ -z "$only" && "$smoke" == False ]]; then
  export ERASURE_STORE_LOG="$PWD/.cache/store-used.txt"
  rm -f "$ERASURE_STORE_LOG"
fi
for nb in "${notebooks[@]}"; do
  started=$(date +%s)
  name=$(basename "$nb")
  echo "run_all.sh: running $nb (profile=$profile, smoke=$smoke)" >&2
  tmp=".cache/running-$name"
  # Only a smoke run passes `smoke`: the executed notebooks keep reading ERASURE_SMOKE from the
  # environment, so nbval (which re-runs them, injected parameters included) stays at smoke sizes.
  params=(-p profile "$profile")
  [[ "$smoke" == True ]] && params+=(-p smoke True)
  executed="$nb"
  if [[ "$profile" != tiny ]]; then
    reason=$(.venv/bin/python -m erasure.notebook_parameters "$profile" "${name%.ipynb}" --skip-reason)
    if [[ -n "$reason" ]]; then echo "run_all.sh: $nb does not run on $profile: $reason" >&2; continue; fi
    # This profile's values of the notebook's parameters (concepts, sizes), as papermill reads them.
    parameters=".cache/parameters-$profile-${name%.ipynb}.yaml"
    smoke_flag=(); [[ "$smoke" == True ]] && smoke_flag=(--smoke)
    .venv/bin/python -m erasure.notebook_parameters "$profile" "${name%.ipynb}" "${smoke_flag[@]}" > "$parameters"
    params+=(-f "$parameters")
    executed="notebooks/$profile/$name"
    mkdir -p "notebooks/$profile"
  fi
  if .venv/bin/papermill "$nb" "$tmp" -k erasure --cwd notebooks "${params[@]}"; then
    if [[ "$smoke" == True ]]; then
      # Kept for reading, never over the committed notebooks.
      mkdir -p ".cache/smoke/notebooks/$profile" && mv "$tmp" ".cache/smoke/notebooks/$profile/$name"
    else
      mv "$tmp" "$executed"; record_cost "$name" $(( $(date +%s) - started ))
    fi
  else
    mv "$tmp" ".cache/failed/$name" 2>/dev/null || true
    echo "run_all.sh: FAILED in notebook $nb: the failing cell and its error are printed above;" \
         "the executed copy is .cache/failed/$name (the committed notebook is unchanged)" >&2
    exit 1
  fi
done
# Entries computed by code that has since changed can never be served again: removed after every run, and
# after a full run every entry no notebook asked for.
if [[ "$smoke" == False ]]; then
  if [[ -n "${ERASURE_STORE_LOG:-}" ]]; then
    touch "$ERASURE_STORE_LOG"
    .venv/bin/python -m erasure.prune --unused "$ERASURE_STORE_LOG" >&2
  else
    .venv/bin/python -m erasure.prune >&2
  fi
fi
echo "run_all.sh: done (${#notebooks[@]} notebook(s), profile=$profile)" >&2
