/*
 * roar-worker: Ray's `py_executable` for traced jobs.
 *
 * Ray starts a worker as `bash -c "exec <py_executable> <python args…>"`, so this program receives the
 * interpreter's arguments (default_worker.py and its flags) in argv[1..]. It puts libroar_preload.so in front of
 * LD_PRELOAD and execs the interpreter named by ROAR_WORKER_PYTHON (the driver's sys.executable) with those
 * arguments. It never looks for a python on PATH: a different interpreter would silently change the job.
 *
 * The preload library is ROAR_PRELOAD when set, else libroar_preload.so next to this executable. ROAR_*
 * variables are passed through unchanged (the environment is inherited as is, apart from LD_PRELOAD).
 * Linked against libc only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../common/preload_list.h"

static char *library_next_to_exe(void) {
    static char buf[4096 + 64];
    ssize_t n = readlink("/proc/self/exe", buf, 4096);
    if (n <= 0) {
        return NULL;
    }
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    if (slash == NULL) {
        return NULL;
    }
    strcpy(slash + 1, "libroar_preload.so");
    return buf;
}

int main(int argc, char **argv) {
    const char *python = getenv("ROAR_WORKER_PYTHON");
    if (python == NULL || python[0] == 0) {
        fprintf(stderr,
                "roar-worker: ROAR_WORKER_PYTHON is not set; it must name the Python interpreter to run "
                "(roar sets it to the driver's sys.executable)\n");
        return 127;
    }
    if (python[0] != '/') {
        fprintf(stderr, "roar-worker: ROAR_WORKER_PYTHON must be an absolute path, got '%s'\n", python);
        return 127;
    }

    const char *lib = getenv("ROAR_PRELOAD");
    if (lib == NULL || lib[0] == 0) {
        lib = library_next_to_exe();
    }
    if (lib == NULL || access(lib, R_OK) != 0) {
        fprintf(stderr, "roar-worker: the preload library %s is not readable (%s); set ROAR_PRELOAD\n",
                lib ? lib : "(libroar_preload.so next to roar-worker)", strerror(errno));
        return 127;
    }
    const char *old = getenv("LD_PRELOAD");
    if (old == NULL || !roar_list_has_token(old, lib)) {
        size_t n = strlen(lib) + (old ? strlen(old) + 1 : 0) + 1;
        char *v = malloc(n);
        if (v == NULL) {
            fprintf(stderr, "roar-worker: out of memory\n");
            return 127;
        }
        if (old && old[0]) {
            snprintf(v, n, "%s:%s", lib, old);
        } else {
            snprintf(v, n, "%s", lib);
        }
        if (setenv("LD_PRELOAD", v, 1) != 0) {
            fprintf(stderr, "roar-worker: cannot set LD_PRELOAD: %s\n", strerror(errno));
            return 127;
        }
        free(v);
    }

    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (args == NULL) {
        fprintf(stderr, "roar-worker: out of memory\n");
        return 127;
    }
    args[0] = (char *)python;
    for (int i = 1; i < argc; i++) {
        args[i] = argv[i];
    }
    args[argc] = NULL;
    execv(python, args);
    fprintf(stderr, "roar-worker: cannot exec ROAR_WORKER_PYTHON=%s: %s\n", python, strerror(errno));
    return 127;
}
