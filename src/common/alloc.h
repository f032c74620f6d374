/*
 * alloc.h - the one out-of-memory policy: allocation failure aborts the process with a message.
 *
 * vidgate keeps every durable fact in the store before it answers, so dying on OOM loses nothing
 * that was acknowledged; checking every allocation would add many untested error paths instead.
 * Everything returned here is released with free().
 */
#ifndef VG_ALLOC_H
#define VG_ALLOC_H
#include <stddef.h>

/** malloc() that never returns NULL. */
void *vg_malloc(size_t n);
/** calloc() that never returns NULL. */
void *vg_calloc(size_t count, size_t size);
/** realloc() that never returns NULL. */
void *vg_realloc(void *p, size_t n);
/** strdup(); NULL in gives NULL out. */
char *vg_strdup(const char *s);
/** Copies at most n bytes of s and terminates the copy. */
char *vg_strndup(const char *s, size_t n);
/** Formats into a new string (free() it). */
char *vg_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
