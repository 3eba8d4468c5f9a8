/* LD_PRELOAD lists, shared by the preload library and roar-worker (both keep the library in the list). */
#ifndef ROAR_PRELOAD_LIST_H
#define ROAR_PRELOAD_LIST_H

#include <stddef.h>
#include <string.h>

/* Whether `tok` is one of the entries of `list` (separated by ':' or ' ', as ld.so reads it). */
static inline int roar_list_has_token(const char *list, const char *tok) {
    size_t tl = strlen(tok);
    const char *p = list;
    while (*p) {
        while (*p == ':' || *p == ' ') {
            p++;
        }
        const char *e = p;
        while (*e && *e != ':' && *e != ' ') {
            e++;
        }
        if ((size_t)(e - p) == tl && memcmp(p, tok, tl) == 0) {
            return 1;
        }
        p = e;
    }
    return 0;
}

#endif
