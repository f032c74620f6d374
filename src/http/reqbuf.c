/* reqbuf.c - see reqbuf.h. Which fields of h2o_req_t can point into the input buffer follows
 * h2o 2.2's lib/http1.c (fixup_request, init_headers) and lib/core/headers.c; a pointer outside
 * the buffer (a static header-name token, a pool string) is left alone, so moving a field that
 * happens not to point there is harmless. */
#include "http/reqbuf.h"
#include "http/reqpool.h"

#include "common/limits.h"

#include <stdlib.h>
#include <string.h>

/* Buffers of this prototype are malloc'd at exactly the size asked (an initial capacity of 0
 * never matches a request) and freed with free(): no recycling list, so no state is shared
 * between the loop threads. */
static h2o_buffer_prototype_t small_prototype = {{0}, {0}, NULL};

typedef struct {
    const char *lo, *hi; /* the request's bytes in the old buffer */
    char *to;            /* their copy */
} move;

static void move_iov(const move *m, h2o_iovec_t *v)
{
    if (v->base >= m->lo && v->base < m->hi) v->base = m->to + (v->base - m->lo);
}

static void move_req(const move *m, h2o_req_t *req)
{
    move_iov(m, &req->input.authority);
    move_iov(m, &req->input.method);
    move_iov(m, &req->input.path);
    move_iov(m, &req->authority);
    move_iov(m, &req->method);
    move_iov(m, &req->path);
    move_iov(m, &req->path_normalized);
    move_iov(m, &req->upgrade);
    move_iov(m, &req->entity);
    for (size_t i = 0; i < req->headers.size; i++) {
        h2o_header_t *h = &req->headers.entries[i];
        /* A name that is not one of h2o's tokens is an iovec in the pool pointing at the buffer;
         * a token's name lies outside it and is never written. */
        if (h->name->base >= m->lo && h->name->base < m->hi) move_iov(m, h->name);
        move_iov(m, &h->value);
    }
    for (size_t i = 0; i < req->env.size; i++)
        move_iov(m, &req->env.entries[i]);
}

/* The copy goes into the pool chunk the request already has when it fits (a parked request has
 * used about a third of it), else into a block of its own (rather than starting a second chunk);
 * either way it is freed with the request. */
static char *copy_in_pool(h2o_mem_pool_t *pool, size_t n)
{
    if (vg_reqpool_fits(pool, n)) return h2o_mem_alloc_pool(pool, n);
    return h2o_mem_alloc_shared(pool, n, NULL);
}

bool vg_reqbuf_shrink(h2o_req_t *req, h2o_socket_t *sock)
{
    h2o_buffer_t *old = sock->input;
    if (!old || !old->bytes || old->_fd != -1 || old->size == 0 ||
        old->size > VG_PARKED_SHRINK_MAX_BYTES || old->capacity <= 2 * old->size)
        return false;
    move m = {old->bytes, old->bytes + old->size, NULL};
    m.to = copy_in_pool(&req->pool, old->size);
    memcpy(m.to, old->bytes, old->size);
    h2o_buffer_t *nb;
    h2o_buffer_init(&nb, &small_prototype);
    h2o_iovec_t room = h2o_buffer_reserve(&nb, old->size);
    if (!room.base) return false; /* the copy stays unused in the pool; nothing moved */
    memcpy(room.base, old->bytes, old->size);
    nb->size = old->size;
    move_req(&m, req);
    /* free(), not h2o_buffer_dispose(): the latter keeps a buffer of the socket prototype's size
     * on a recycling list, where a pointer this file failed to move would still read the old
     * bytes unnoticed; freed, it is a use-after-free that the sanitizer build reports. (h2o
     * allocates these buffers with malloc either way.) */
    free(old);
    sock->input = nb;
    return true;
}
