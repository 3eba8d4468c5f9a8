/*
 * roar-worker: Ray's `py_executable` for traced jobs.
 *
 * Ray starts a worker as `bash -c "exec <py_executable> <python args…>"`, so this program receives the
 * interpreter's arguments (default_worker.py and its flags) in argv[1..]. It puts libroar_preload.so in front of
 * LD_PRELOAD and execs the interpreter named by ROAR_WORKER_PYTHON (the driver's sys.executable) with those
 * arguments.
 *
 * On a cluster the host cannot know the nodes' interpreter, and the job supervisor starts before any driver could
 * say: without ROAR_WORKER_PYTHON the interpreter is the one whose site-packages hold the default_worker.py Ray asked
 * for (<prefix>/lib/pythonX.Y/site-packages/ray/... -> <prefix>/bin/pythonX.Y), which is the interpreter Ray itself
 * runs. It never guesses from PATH: a different interpreter would silently change the job.
 *
 * On a cluster it also creates ROAR_SPOOL (mode 0700) when missing: the preload library writes there.
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
#include <sys/stat.h>
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

/* <prefix>/lib/pythonX.Y/(site|dist)-packages/... -> <prefix>/bin/pythonX.Y when that is executable; for Debian's
 * /usr/lib/python3/dist-packages -> /usr/bin/python3. NULL when the script is not inside such a tree. */
static char *python_owning(const char *script) {
    static char buf[4096 + 64];
    if (script == NULL || script[0] != '/' || strlen(script) >= 4096) {
        return NULL;
    }
    const char *lib = NULL;
    for (const char *p = strstr(script, "/lib/python"); p != NULL; p = strstr(p + 1, "/lib/python")) {
        lib = p; /* the last one: a prefix may itself contain lib/python */
    }
    if (lib == NULL) {
        return NULL;
    }
    const char *version = lib + strlen("/lib/");
    const char *end = strchr(version, '/');
    if (end == NULL || (strncmp(end, "/site-packages/", 15) != 0 && strncmp(end, "/dist-packages/", 15) != 0)) {
        return NULL;
    }
    size_t prefix_len = (size_t)(lib - script);
    size_t version_len = (size_t)(end - version); /* "python3.11" or "python3" */
    memcpy(buf, script, prefix_len);
    memcpy(buf + prefix_len, "/bin/", 5);
    memcpy(buf + prefix_len + 5, version, version_len);
    buf[prefix_len + 5 + version_len] = 0;
    return access(buf, X_OK) == 0 ? buf : NULL;
}

/* Appends `path` to the ':'-separated list in `variable` unless it is there already. */
static void append_to_list(const char *variable, const char *path) {
    const char *old = getenv(variable);
    if (path[0] != '/' || (old != NULL && roar_list_has_token(old, path))) {
        return;
    }
    size_t n = strlen(path) + (old ? strlen(old) + 1 : 0) + 1;
    char *value = malloc(n);
    if (value == NULL) {
        return;
    }
    if (old != NULL && old[0] != 0) {
        snprintf(value, n, "%s:%s", old, path);
    } else {
        snprintf(value, n, "%s", path);
    }
    setenv(variable, value, 1);
    free(value);
}

/* The interpreter's own trees are never lineage. On a cluster the host could not name them, so the
 * launcher adds them to ROAR_IGNORE (as roar's driver does for local runs): a worker's thousands of
 * imports then never reach the spool. `python` is <prefix>/bin/<name>; a virtualenv's pyvenv.cfg names
 * the base installation (`home = <base>/bin`), whose standard library the worker imports too. */
static void ignore_interpreter_trees(const char *python) {
    char prefix[4096];
    if (getenv("ROAR_IGNORE") == NULL || strlen(python) >= sizeof prefix) {
        return; /* not under roar's cluster set-up: leave the environment alone */
    }
    strcpy(prefix, python);
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(prefix, '/');
        if (slash == NULL || slash == prefix) {
            return;
        }
        *slash = 0;
    }
    if (strcmp(prefix, "/usr") != 0 && strcmp(prefix, "/usr/local") != 0) {
        append_to_list("ROAR_IGNORE", prefix);
    }
    char cfg_path[4096 + 16];
    snprintf(cfg_path, sizeof cfg_path, "%s/pyvenv.cfg", prefix);
    FILE *cfg = fopen(cfg_path, "r");
    if (cfg == NULL) {
        return;
    }
    char line[4096];
    while (fgets(line, sizeof line, cfg) != NULL) {
        if (strncmp(line, "home", 4) != 0) {
            continue;
        }
        char *value = strchr(line, '=');
        if (value == NULL) {
            break;
        }
        value++;
        while (*value == ' ' || *value == '\t') {
            value++;
        }
        value[strcspn(value, "\r\n")] = 0;
        size_t len = strlen(value);
        while (len > 1 && (value[len - 1] == ' ' || value[len - 1] == '/')) {
            value[--len] = 0;
        }
        char *slash = strrchr(value, '/'); /* <base>/bin -> <base> */
        if (slash != NULL && slash != value) {
            *slash = 0;
            if (strcmp(value, "/usr") != 0 && strcmp(value, "/usr/local") != 0) {
                append_to_list("ROAR_IGNORE", value);
            }
        }
        break;
    }
    fclose(cfg);
}

static void make_spool_directory(void) {
    const char *spool = getenv("ROAR_SPOOL");
    if (spool == NULL || spool[0] != '/' || strlen(spool) >= 4096) {
        return;
    }
    char path[4096];
    strcpy(path, spool);
    for (char *slash = strchr(path + 1, '/');; slash = strchr(slash + 1, '/')) {
        if (slash != NULL) {
            *slash = 0;
        }
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            return; /* not fatal: the preload library counts what it cannot write */
        }
        if (slash == NULL) {
            return;
        }
        *slash = '/';
    }
}

int main(int argc, char **argv) {
    const char *python = getenv("ROAR_WORKER_PYTHON");
    if (python == NULL || python[0] == 0) {
        python = python_owning(argc > 1 ? argv[1] : NULL);
    }
    if (python == NULL || python[0] == 0) {
        fprintf(stderr,
                "roar-worker: ROAR_WORKER_PYTHON is not set and %s is not inside a Python installation; set "
                "ROAR_WORKER_PYTHON to the interpreter to run\n",
                argc > 1 ? argv[1] : "(no script given)");
        return 127;
    }
    make_spool_directory();
    ignore_interpreter_trees(python);
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
