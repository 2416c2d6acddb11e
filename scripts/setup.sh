#!/bin/bash
# Installs what sockcat needs to build and test (Debian 12, as root), then builds it into build/.
# Safe to run again: it installs only what is missing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake ninja-build pkg-config          # toolchain
  clang libclang-rt-14-dev                  # libFuzzer and clang's sanitizer runtimes
  libasio-dev libcxxopts-dev catch2         # libraries (headers only)
  libssl-dev ca-certificates                # TLS: OpenSSL, and the system's trusted CAs
  netbase                                   # /etc/services, for ports given as service names
  python3 python3-pytest                    # end-to-end tests
  netcat-openbsd socat procps iproute2      # real peers and process tools the tests use
  ncat openssl                              # TLS peers: ncat --ssl, openssl s_client/s_server
  dante-server microsocks tinyproxy         # proxies the proxy client is tested against
  openssh-server curl                       # ssh through sockcat (ProxyCommand); curl through sockcat's proxy
  haproxy                                   # the forward benchmark's limit row
  strace                                    # a test checks which copy path the relay takes
  groff-base mandoc bash-completion zsh fish  # the manual and completion tests
  tmux                                      # the terminal the completion tests type into
  dpkg-dev lintian man-db                   # the Debian package: Depends, its lint, man(1)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # The daemons among them (sshd, danted, tinyproxy, haproxy) are started only by the tests, on
  # loopback with throwaway configs: keep their packages from starting them system-wide.
  made_policy=false
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=true
  fi
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  if $made_policy; then rm -f /usr/sbin/policy-rc.d; fi
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
