#!/usr/bin/env bash
# Compiles every native C file (the preload library with the BLAKE3 sources it links, and roar-worker) with
# build.sh's flags plus -Werror, syntax only: exits non-zero on any warning. Called by scripts/lint.
#   native/lint.sh        (CC=clang native/lint.sh to check with another compiler)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cc="${CC:-cc}"
# shellcheck source=native/flags.sh
. "$root/native/flags.sh"
status=0
for src in "${roar_preload_sources[@]}"; do
    "$cc" -fsyntax-only -Werror "${roar_preload_cflags[@]}" "$src" || status=1
done
for src in "${roar_worker_sources[@]}"; do
    "$cc" -fsyntax-only -Werror "${roar_worker_cflags[@]}" "$src" || status=1
done
exit "$status"
