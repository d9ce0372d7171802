#!/bin/sh
# Run one fuzz target for a number of minutes: fuzz/run.sh dockerfile|layer|manifest MINUTES [JOBS]
# New inputs go to fuzz/work/TARGET/corpus, crashes/hangs/ooms to fuzz/work/TARGET/,
# libFuzzer's log to fuzz/work/TARGET/fuzz.log. Not part of CI (see fuzz/README.md).
set -eu
target=$1
minutes=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
python=${PYTHON:-$repo/.venv/bin/python}
corpus_root=${CORPUS:-$repo/../shared/corpus}
work=$here/work/$target${FUZZ_LINT:+-lint}${FUZZ_EXTRACT:+-extract}
mkdir -p "$work/corpus"
seeds="$here/seeds/$target"
extra=""
dict=""
[ -f "$here/$target.dict" ] && dict="-dict=$here/$target.dict"
case $target in
  dockerfile)
    max_len=4096
    # BuildKit's parser and shell-lexer cases and real-world Dockerfiles, read in place.
    for d in buildkit-parser buildkit-shell dockerfiles; do
      [ -d "$corpus_root/$d" ] && extra="$extra $corpus_root/$d"
    done
    ;;
  layer)
    max_len=65536
    "$python" "$here/make_seeds.py" "$work/generated"
    extra="$work/generated"
    ;;
  manifest)
    max_len=16384
    ;;
  *) echo "unknown target $target (dockerfile, layer, manifest)" >&2; exit 2 ;;
esac
# -timeout: an input that takes longer is a hang (super-linear time);
# -rss_limit_mb: memory a hostile input may not make us use.
# shellcheck disable=SC2086
status=0
nice -n 10 "$python" "$here/fuzz_$target.py" \
  -max_total_time=$((minutes * 60)) -timeout=10 -rss_limit_mb=2048 -max_len=$max_len \
  $dict -print_final_stats=1 -artifact_prefix="$work/" \
  "$work/corpus" "$seeds" $extra >"$work/fuzz.log" 2>&1 || status=$?
grep -E '^(stat::|==[0-9]+== ERROR|Done )' "$work/fuzz.log" || true
ls "$work" | grep -E '^(crash|timeout|oom|slow-unit|leak)-' || true
exit $status
