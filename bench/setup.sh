#!/bin/bash
# Prepare the benchmark harness (Debian 12, as root for apt-get):
#   1. apt-get installs only the packages that are missing: the peers measured (ncat,
#      netcat-openbsd, socat), the limit and timing tools (iperf3, hyperfine, time), and what
#      the harness and sockcat need to build and run;
#   2. builds a Release sockcat into bench/build (CMake from the repository root), unless
#      SOCKCAT_BIN names a binary to measure instead;
#   3. builds the C helpers from bench/src into bench/bin (gcc -O2; the TLS ones with
#      -lssl -lcrypto, when OpenSSL's headers are installed).
#
#   bench/setup.sh              all three steps
#   bench/setup.sh --no-apt     steps 2 and 3 (no package manager; e.g. in CI)
#   bench/setup.sh --helpers    step 3 only (run.sh calls this; rebuilds what is out of date)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
apt=1 sockcat=1
for arg in "$@"; do
    case $arg in
    --no-apt) apt=0 ;;
    --helpers) apt=0 sockcat=0 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
    esac
done

if [ "$apt" = 1 ]; then
    packages=(
        ncat netcat-openbsd socat              # the peers
        haproxy                                # the forward section's limit row
        iperf3 hyperfine time                  # limit rows and timing
        gcc libc6-dev                          # the C helpers
        libssl-dev openssl                     # the TLS helpers, and the certificates made at run time
        g++ cmake ninja-build libasio-dev libcxxopts-dev   # sockcat
        python3 iproute2 util-linux coreutils  # orchestration, private network namespace, timeout
    )
    missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    else
        echo "setup: all packages present" >&2
    fi
fi

if [ "$sockcat" = 1 ]; then
    if [ -n "${SOCKCAT_BIN:-}" ]; then
        [ -x "$SOCKCAT_BIN" ] || { echo "setup: SOCKCAT_BIN=$SOCKCAT_BIN is not executable" >&2; exit 1; }
        echo "setup: measuring $SOCKCAT_BIN (not building)" >&2
    else
        cmake -S "$repo" -B "$here/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSOCKCAT_TESTS=OFF >/dev/null
        cmake --build "$here/build" --target sockcat
        echo "setup: built $here/build/sockcat" >&2
    fi
fi

mkdir -p "$here/bin"
# stale: the binary is missing or older than its source or a header it may include
stale() {
    local f
    [ -x "$here/bin/$1" ] || return 0
    for f in "$here/src/$1.c" "$here/src"/*.h; do
        [ "$f" -nt "$here/bin/$1" ] && return 0
    done
    return 1
}
for s in gen dgramfeed runstat zcheck epoll_echo loadgen hold sink; do
    if stale "$s"; then
        gcc -O2 -Wall -Wextra -o "$here/bin/$s" "$here/src/$s.c"
    fi
done
# the TLS sections' helpers need OpenSSL's headers (libssl-dev); without them those sections are skipped
if echo '#include <openssl/ssl.h>' | gcc -E -x c - >/dev/null 2>&1; then
    for s in tls_server tls_send tls_loadgen; do
        if stale "$s"; then
            gcc -O2 -Wall -Wextra -o "$here/bin/$s" "$here/src/$s.c" -lssl -lcrypto
        fi
    done
else
    echo "setup: no OpenSSL headers (libssl-dev): TLS helpers not built, the tls-* sections will be skipped" >&2
fi
echo "setup: helpers in $here/bin: $(cd "$here/bin" && echo *)" >&2
