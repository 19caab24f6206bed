#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds a program against it
# twice: with pkg-config and with CMake's find_package(mlxc).
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(ls -d "$tmp"/prefix/lib*/ | head -1)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c11 -Wall -Werror "$src/examples/hello.c" -o "$tmp/hello_pc" $(pkg-config --cflags --libs mlxc)
LD_LIBRARY_PATH="$libdir" "$tmp/hello_pc" >/dev/null
mkdir -p "$tmp/proj"
cat > "$tmp/proj/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.25)
project(use_mlxc C)
find_package(mlxc REQUIRED)
add_executable(hello $src/examples/hello.c)
target_link_libraries(hello PRIVATE mlxc::mlxc)
CM
cmake -S "$tmp/proj" -B "$tmp/proj/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/proj/build" >/dev/null
LD_LIBRARY_PATH="$libdir" "$tmp/proj/build/hello" >/dev/null
echo "install check: pkg-config and find_package builds ran"
