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

headers=("$root"/native/preload/*.h "$root"/Sources/CBLAKE3/*.h "$root"/Sources/CBLAKE3/include/*.h)
cflags="-O2 -fPIC -D_GNU_SOURCE -fvisibility=hidden -ftls-model=initial-exec -Wall -Wextra -Wno-unused-parameter \
-Wno-missing-field-initializers -fno-strict-aliasing -I$root/Sources/CBLAKE3/include -I$root/native/preload"

# newer_than TARGET DEPS...: true when TARGET is missing or some dependency is newer.
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
for src in "$root"/native/preload/*.c "$root"/Sources/CBLAKE3/*.c; do
    rel="${src#"$root"/}"
    o="$obj/${rel//\//_}.o"
    objects+=("$o")
    if stale "$o" "$src" "${headers[@]}" "$0"; then
        todo+=("$src" "$o")
    fi
done

if ((${#todo[@]})); then
    # shellcheck disable=SC2086
    printf '%s\0%s\0' "${todo[@]}" | xargs -0 -n 2 -P "$jobs" sh -c \
        '"$0" -c '"$cflags"' -o "$2.tmp.$$" "$1" && mv -f "$2.tmp.$$" "$2"' "$cc"
fi

if stale "$out/libroar_preload.so" "${objects[@]}"; then
    tmp="$out/.libroar_preload.so.$$"
    "$cc" -shared -Wl,-z,defs -Wl,--as-needed -o "$tmp" "${objects[@]}" -ldl -lpthread
    mv -f "$tmp" "$out/libroar_preload.so"
fi

worker_src="$root/native/worker/roar_worker.c"
if stale "$out/roar-worker" "$worker_src" "$0"; then
    tmp="$out/.roar-worker.$$"
    "$cc" -O2 -D_GNU_SOURCE -Wall -Wextra -o "$tmp" "$worker_src"
    mv -f "$tmp" "$out/roar-worker"
fi
