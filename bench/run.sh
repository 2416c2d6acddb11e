#!/bin/bash
# Run the benchmark: every section for sockcat, the peers and the limit rows, interleaved
# within each repetition; writes bench/results/<UTC time>/{raw.tsv,notes.tsv,env.txt,summary.md,...}
# and prints the summary. Settings come from the environment (see bench/README.md).
#
#   bench/run.sh            the full run (REPS=5, all sections, all tools; about 40 minutes)
#   bench/run.sh --smoke    a seconds-long check that the harness works: sockcat and the C
#                           limit rows only, tiny sizes; exit 0 if it works (no timed assertion)
#
# The run happens in a private network namespace (unshare -n, loopback only) when possible,
# so the kernel's UDP counters see only this run and no port collides with anything else;
# NETNS=0 uses the host's namespace. The whole run is bounded by RUN_TIMEOUT seconds.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for arg in "$@"; do
    case $arg in
    --smoke) export SMOKE=1 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
    esac
done
export LC_ALL=C
"$here/setup.sh" --helpers || exit 1
if [ -z "${SOCKCAT_BIN:-}" ] && [ ! -x "$here/build/sockcat" ] && [ -x "$here/../build/sockcat" ]; then
    export SOCKCAT_BIN=$here/../build/sockcat   # scripts/setup.sh's build, if bench/setup.sh built none
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "${SMOKE:-0}" = 1 ]; then limit=${RUN_TIMEOUT:-120}; else limit=${RUN_TIMEOUT:-5400}; fi
py=(/usr/bin/python3 "$here/lib/bench.py" run)

if [ "${NETNS:-1}" = 1 ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null &&
    unshare -n true 2>/dev/null; then
    # --foreground: Ctrl-C still reaches the run; every process it starts has its own timeout
    exec timeout --foreground -k 10 "$limit" unshare -n env BENCH_IN_NETNS=1 \
        bash -c 'ip link set lo up && exec "$@"' netns "${py[@]}"
fi
echo "run.sh: no private network namespace (NETNS=0, not root, or unshare failed): UDP counters" \
     "may include other traffic on this machine" >&2
exec timeout --foreground -k 10 "$limit" "${py[@]}"
