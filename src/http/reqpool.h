/*
 * reqpool.h - moves a parked request's pool into a block of the size it uses.
 *
 * Everything h2o 2.2 and the handlers allocate for a request (its header table, the copy of its
 * bytes made by http/reqbuf.h, a long-poll waiter) comes from the request's pool, whose first
 * chunk is a 4 KiB malloc. A parked GET uses about a quarter of it, and the rest stays resident:
 * with 10,000 parked long-polls, some 30 MB of the process for nothing (bench B7).
 *
 * vg_reqpool_compact() copies the used part of that single chunk into a block of its own size
 * (a "direct" block of the same pool, so h2o frees it with the request), rewrites every pointer
 * into the chunk that it can find, frees the chunk and leaves the pool with no chunk (the next
 * small allocation, e.g. for the reply, starts a fresh one). The pointers it rewrites are the
 * 8-byte-aligned words, in
 *  - the moved bytes themselves (the header table, strings and objects pointing at each other),
 *  - the connection block holding the request (h2o's HTTP/1 connection, with h2o_req_t in it),
 *  - the pool's other direct blocks, and its shared blocks that only this request holds.
 * A word is taken for a pointer when its value lies in the chunk's used bytes; an integer that
 * happens to equal a heap address there is the price of not knowing every type, and with
 * addresses in the terabyte range no counter or size of ours comes near one.
 *
 * Contract: call it on the request's loop thread, while nothing else (a list, a timer, a heap
 * object, the caller's locals) holds a pointer into the pool; link the moved objects afterwards.
 * It leaves an HTTP/2 request, a request with a body, a pool of more than one chunk, or one the
 * copy would not make smaller, as it was.
 */
#ifndef VG_HTTP_REQPOOL_H
#define VG_HTTP_REQPOOL_H
#include <h2o.h>
#include <stdbool.h>

/** Where the pool's bytes went: a pointer p into the old chunk is now vg_reqpool_moved(&m, p). */
typedef struct {
    const char *lo, *hi; /* the used bytes of the old chunk (freed: compare, never read) */
    char *to;            /* their copy */
} vg_reqpool_move;

/** Compacts req's pool (see above). Returns 1 when moved (*m says where), 0 when left alone. */
int vg_reqpool_compact(h2o_req_t *req, vg_reqpool_move *m);

/** p translated by m (p itself when it did not point into the old chunk). */
void *vg_reqpool_moved(const vg_reqpool_move *m, void *p);

/** Whether h2o_mem_alloc_pool(pool, n) would take its n bytes from the pool's current chunk: below
 *  a quarter of a chunk (larger ones get a malloc of their own) and within what is left of it,
 *  n rounded up to 16 as h2o does. This file is where h2o 2.2's pool layout is known. */
bool vg_reqpool_fits(const h2o_mem_pool_t *pool, size_t n);

#endif
