/*
 * reqbuf.h - gives back the read buffer of a connection whose request waits a long time.
 *
 * h2o 2.2's HTTP/1 reads a request into its socket's input buffer (8 KiB from the first byte)
 * and leaves the request's method, path, authority and header strings pointing into that buffer
 * until the response has been sent; only then does it consume the request's bytes and read the
 * next one. A long-poll request parked for a minute holds those 8 KiB doing nothing: with 10,000
 * parked clients, 80 MB of the process (bench B7).
 *
 * vg_reqbuf_shrink() copies the request's bytes into the request's pool (freed with it), moves
 * every string of the request that pointed into the buffer onto that copy, and
 * replaces the socket's buffer by an exact-size one holding the same bytes (h2o consumes the
 * request's length from it when the response is done, and any pipelined bytes after the request
 * stay for h2o to parse next). Nothing points into the new buffer, so a later read may grow and
 * move it freely. Call it on the loop thread, while h2o is not reading the socket, before
 * anything else takes a pointer into the request's strings.
 */
#ifndef VG_HTTP_REQBUF_H
#define VG_HTTP_REQBUF_H
#include <h2o.h>
#include <stdbool.h>

/** Shrinks sock's input buffer under req (see above). false when it left things as they were:
 *  the buffer is already small, mapped to a file, or holds more than a request head. */
bool vg_reqbuf_shrink(h2o_req_t *req, h2o_socket_t *sock);

#endif
