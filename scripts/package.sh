#!/bin/bash
# Builds the Debian package dist/sockcat_VERSION_ARCH.deb with CPack's DEB generator (the
# package's metadata is in CMakeLists.txt, its files are what `cmake --install` installs).
# It compiles in a build tree of its own, build-deb/: Release with Debian's hardening flags
# (dpkg-buildflags), linked against the shared C and C++ libraries (-DSOCKCAT_STATIC=OFF), no
# tests. Extra arguments go to cmake's configure step (e.g. -DCMAKE_CXX_COMPILER_LAUNCHER=ccache).
# Needs dpkg-dev, whose dpkg-shlibdeps computes Depends (scripts/setup.sh installs it).
# The last line it prints is the package's path.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-deb

export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSOCKCAT_STATIC=OFF -DSOCKCAT_TESTS=OFF \
  -DCMAKE_CXX_FLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)" \
  -DCMAKE_EXE_LINKER_FLAGS="$(dpkg-buildflags --get LDFLAGS)" "$@"
cmake --build "$build"

rm -rf "$build/cpack"
cpack --config "$build/CPackConfig.cmake" -B "$build/cpack"
debs=("$build"/cpack/*.deb)
[ ${#debs[@]} -eq 1 ] || { echo "package.sh: expected one .deb in $build/cpack, found ${debs[*]}" >&2; exit 1; }
mkdir -p dist
deb=dist/$(basename "${debs[0]}")
mv "${debs[0]}" "$deb"
dpkg-deb --info "$deb"
dpkg-deb --contents "$deb"
echo "$deb"
