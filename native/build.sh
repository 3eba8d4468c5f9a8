#!/usr/bin/env bash
# Builds the native parts of roar into OUTDIR:
#   libroar_preload.so  the preload library (native/preload/*.c + the BLAKE3 sources of Sources/CBLAKE3)
#   roar-worker         Ray's py_executable (native/worker/roar_worker.c)
# with the system C compiler only, linked against libc (+ libdl/libpthread). Objects are cached in
# OUTDIR/.roar-native-obj and compiled in parallel; an output newer than all of its inputs is left alone, so a
# second run does nothing. Prints nothing on success except compiler warnings.
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: native/build.sh OUTDIR" >&2
    exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$1"
out="$(cd "$1" && pwd)"
obj="$out/.roar-native-obj"
mkdir -p "$obj"
cc="${CC:-cc}"
jobs="$(nproc 2>/dev/null || echo 2)"

# shellcheck source=native/flags.sh
. "$root/native/flags.sh"
flags_file="$root/native/flags.sh"

# stale TARGET DEPS...: true when TARGET is missing or some dependency is newer.
stale() {
    local target="$1"
    shift
    [ -f "$target" ] || return 0
    local dep
    for dep in "$@"; do
        [ "$dep" -nt "$target" ] && return 0
    done
    return 1
}

# Object names carry their directory so native/preload/x.c and Sources/CBLAKE3/x.c cannot collide.
objects=()
todo=()
for src in "${roar_preload_sources[@]}"; do
    rel="${src#"$root"/}"
    o="$obj/${rel//\//_}.o"
    objects+=("$o")
    if stale "$o" "$src" "${roar_preload_headers[@]}" "$0" "$flags_file"; then
        todo+=("$src" "$o")
    fi
done

if ((${#todo[@]})); then
    # xargs appends SRC OBJ to the compiler command line given here.
    # shellcheck disable=SC2016
    printf '%s\0%s\0' "${todo[@]}" | xargs -0 -n 2 -P "$jobs" bash -c \
        'src="${*: -2:1}" o="${*: -1}"; "${@:1:$#-2}" -o "$o.tmp.$$" "$src" && mv -f "$o.tmp.$$" "$o"' \
        compile "$cc" -c "${roar_preload_cflags[@]}"
fi

# The link also reruns when the set of objects changed (a source file added or removed).
inputs="$obj/libroar_preload.inputs"
if stale "$out/libroar_preload.so" "${objects[@]}" || [ "$(printf '%s\n' "${objects[@]}")" != "$(cat "$inputs" 2>/dev/null)" ]; then
    tmp="$out/.libroar_preload.so.$$"
    "$cc" -shared -Wl,-z,defs -Wl,--as-needed -o "$tmp" "${objects[@]}" -ldl -lpthread
    mv -f "$tmp" "$out/libroar_preload.so"
    printf '%s\n' "${objects[@]}" >"$inputs"
fi

if stale "$out/roar-worker" "${roar_worker_sources[@]}" "${roar_worker_headers[@]}" "$0" "$flags_file"; then
    tmp="$out/.roar-worker.$$"
    "$cc" "${roar_worker_cflags[@]}" -o "$tmp" "${roar_worker_sources[@]}"
    mv -f "$tmp" "$out/roar-worker"
fi
