/* reqpool.c - see reqpool.h. The layouts below mirror h2o 2.2's lib/common/memory.c, whose pool
 * structures the public header only declares: a chunk and a direct block start with a next
 * pointer and a word of padding; a shared reference is {next, entry}. */
#include "http/reqpool.h"

#include <malloc.h>
#include <stdint.h>
#include <string.h>

struct chunk {
    struct chunk *next;
    size_t pad;
    char bytes[4096 - 2 * sizeof(void *)];
};

struct direct {
    struct direct *next;
    size_t pad;
    char bytes[];
};

struct shared_ref {
    struct shared_ref *next;
    struct st_h2o_mem_pool_shared_entry_t *entry;
};

/* h2o gives an allocation of a quarter of a chunk or more a malloc of its own (a direct block):
 * that is how the copy gets one, and below that size it would land in the chunk again. */
#define DIRECT_MIN (sizeof(((struct chunk *)0)->bytes) / 4)

/* Past this the copy saves too little to be worth it. */
#define WORTH_MAX (sizeof(((struct chunk *)0)->bytes) / 2)

bool vg_reqpool_fits(const h2o_mem_pool_t *pool, size_t n)
{
    size_t cap = sizeof(((struct chunk *)0)->bytes), need = (n + 15) & ~(size_t)15;
    return n < DIRECT_MIN && pool->chunks && pool->chunk_offset <= cap &&
           cap - pool->chunk_offset >= need;
}

static int points_in(const vg_reqpool_move *m, uintptr_t v)
{
    return v >= (uintptr_t)m->lo && v <= (uintptr_t)m->hi;
}

void *vg_reqpool_moved(const vg_reqpool_move *m, void *p)
{
    return points_in(m, (uintptr_t)p) ? m->to + ((uintptr_t)p - (uintptr_t)m->lo) : p;
}

/* Rewrites the words of [base, base+len) that point into the old chunk. base is malloc-aligned. */
static void rewrite(const vg_reqpool_move *m, void *base, size_t len)
{
    uintptr_t *w = base;
    for (size_t i = 0; i < len / sizeof *w; i++)
        if (points_in(m, w[i])) w[i] = (uintptr_t)m->to + (w[i] - (uintptr_t)m->lo);
}

/* The malloc'd block of the request's connection when it holds the request (HTTP/1), else 0. */
static size_t conn_block(const h2o_req_t *req)
{
    if (!req->conn) return 0;
    size_t n = malloc_usable_size(req->conn);
    const char *c = (const char *)req->conn, *r = (const char *)req;
    return r >= c && r + sizeof *req <= c + n ? n : 0;
}

int vg_reqpool_compact(h2o_req_t *req, vg_reqpool_move *m)
{
    h2o_mem_pool_t *pool = &req->pool;
    struct chunk *ch = (struct chunk *)pool->chunks;
    if (!ch || ch->next || pool->chunk_offset > WORTH_MAX || req->entity.base) return 0;
    size_t conn_len = conn_block(req);
    if (!conn_len) return 0;

    size_t used = pool->chunk_offset;
    char *to = h2o_mem_alloc_pool(pool, used > DIRECT_MIN ? used : DIRECT_MIN);
    memcpy(to, ch->bytes, used);
    *m = (vg_reqpool_move){ch->bytes, ch->bytes + used, to};

    rewrite(m, to, used);
    rewrite(m, req->conn, conn_len);
    for (struct direct *d = (struct direct *)pool->directs; d; d = d->next)
        if (d->bytes != to) rewrite(m, d->bytes, malloc_usable_size(d) - sizeof *d);
    /* the list's nodes were in the chunk: walked after the rewrite, in their new place */
    for (struct shared_ref *r = (struct shared_ref *)pool->shared_refs; r; r = r->next)
        if (r->entry->refcnt == 1)
            rewrite(m, r->entry->bytes,
                    malloc_usable_size(r->entry) -
                        offsetof(struct st_h2o_mem_pool_shared_entry_t, bytes));

    pool->chunks = NULL;
    /* as h2o leaves an empty pool: the next small allocation adds a chunk */
    pool->chunk_offset = sizeof ch->bytes;
    /* free(), as h2o would once its recycling list is full (its chunks are malloc'd): a pointer
     * left unmoved is then a use-after-free that the sanitizer build reports. */
    free(ch);
    return 1;
}
