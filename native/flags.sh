# Compiler flags of the native parts, shared by native/build.sh and native/lint.sh (sourced; needs $root).
# The lint adds -Werror; the build does not, so a newer compiler's new warning cannot stop a user's build.
# shellcheck shell=bash
roar_warnings=(-Wall -Wextra)
roar_preload_cflags=(-O2 -fPIC -D_GNU_SOURCE -fvisibility=hidden -ftls-model=initial-exec "${roar_warnings[@]}"
    -fno-strict-aliasing "-I$root/Sources/CBLAKE3/include" "-I$root/native/preload")
roar_worker_cflags=(-O2 -D_GNU_SOURCE "${roar_warnings[@]}")
# The sources of each output, and the headers they include (any change rebuilds).
roar_preload_sources=("$root"/native/preload/*.c "$root"/Sources/CBLAKE3/*.c)
roar_preload_headers=("$root"/native/preload/*.h "$root"/native/common/*.h "$root"/Sources/CBLAKE3/*.h
    "$root"/Sources/CBLAKE3/include/*.h)
roar_worker_sources=("$root"/native/worker/roar_worker.c)
roar_worker_headers=("$root"/native/common/*.h)
