/*
 * sqlite_checkpoint.c - WAL checkpoints on a thread of their own (see sqlite_internal.h).
 *
 * SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1,000 pages: that
 * commit copies the pages into the database file and syncs it before it returns. On the group
 * commit's writer thread every submit waiting for that batch waited too; a submit flood's p99
 * went from about 8 ms to 10-13 ms with them. A checkpointer thread with its own connection copies
 * the WAL instead (PASSIVE: it never blocks a writer or a reader, and a writer never waits for
 * it), woken by the commit hook of every connection once the WAL has CKPT_PAGES pages.
 *
 * The WAL file starts again from its beginning only when a write begins with every frame already
 * copied, which under a steady stream of commits a thread of its own never achieves: the WAL grew
 * to the backstop. So once the thread has copied all but CKPT_TAIL frames, the commit that sees
 * it copies the rest itself (a few pages, where the automatic checkpoint copied a thousand) and
 * the next write restarts the WAL. Past CKPT_BACKSTOP pages (the thread is far behind, or gone)
 * the committing connection checkpoints itself whatever is left, so the WAL stays bounded.
 *
 * One checkpointer per database path in the process, shared by its connections (counted
 * references); it stops with the last of them.
 */
#include "common/alloc.h"
#include "common/log.h"
#include "common/metrics.h"
#include "store/sqlite_internal.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_PAGES    1000  /* SQLite's own threshold */
#define CKPT_TAIL     200   /* frames a commit copies itself to finish the thread's work */
#define CKPT_BACKSTOP 20000 /* about 80 MiB of WAL */

struct vg_sq_ckpt {
    struct vg_sq_ckpt *next; /* in g_list (under g_lock) */
    char *path;              /* owned */
    int refs;                /* under g_lock */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool due, stop; /* under lock */
    /* the WAL's frames and those copied at the thread's last checkpoint (under lock); a WAL
     * with fewer frames than log has started again since */
    int log, done;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vg_sq_ckpt *g_list;

/* A connection of its own, opened on first need: the database exists by then. */
static sqlite3 *ckpt_open(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK) {
        vg_warn("store: the checkpointer cannot open %s: %s", path,
                db ? sqlite3_errmsg(db) : "no memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 1000);
    return db;
}

static void *ckpt_main(void *arg)
{
    vg_sq_ckpt *c = arg;
    sqlite3 *db = NULL;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->due && !c->stop)
            pthread_cond_wait(&c->wake, &c->lock);
        if (c->stop) break;
        c->due = false;
        pthread_mutex_unlock(&c->lock);
        if (!db) db = ckpt_open(c->path);
        int log = 0, done = 0;
        int rc = db ? sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done)
                    : SQLITE_CANTOPEN;
        pthread_mutex_lock(&c->lock);
        if (rc == SQLITE_OK) c->log = log, c->done = done;
        pthread_mutex_unlock(&c->lock);
        if (rc == SQLITE_OK) {
            vg_metrics_inc(VG_MC_DB_CHECKPOINT);
        } else if (rc != SQLITE_BUSY) { /* busy: another one runs (a closing connection's) */
            vg_metrics_inc(VG_MC_DB_CHECKPOINT_FAIL);
            vg_warn("store: checkpoint of %s failed: %s", c->path, db ? sqlite3_errmsg(db) : "-");
        }
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    sqlite3_close(db);
    return NULL;
}

/* The commit hook (sqlite3_wal_hook) of every connection attached to c: it replaces SQLite's
 * automatic checkpoint on that connection. */
static int on_commit(void *arg, sqlite3 *db, const char *schema, int pages)
{
    vg_sq_ckpt *c = arg;
    if (pages < CKPT_PAGES) return SQLITE_OK;
    pthread_mutex_lock(&c->lock);
    int done = pages >= c->log ? c->done : 0;
    bool finish = pages >= CKPT_BACKSTOP || pages - done <= CKPT_TAIL;
    if (!finish) {
        c->due = true;
        pthread_cond_signal(&c->wake);
    }
    pthread_mutex_unlock(&c->lock);
    int log = 0, copied = 0;
    if (finish && sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) ==
                      SQLITE_OK) {
        pthread_mutex_lock(&c->lock);
        c->log = log, c->done = copied;
        pthread_mutex_unlock(&c->lock);
    }
    return SQLITE_OK;
}

static vg_sq_ckpt *ckpt_new(const char *path)
{
    vg_sq_ckpt *c = vg_calloc(1, sizeof *c);
    c->path = vg_strdup(path);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        free(c->path);
        free(c);
        return NULL;
    }
    return c;
}

vg_sq_ckpt *vg_sq_ckpt_attach(const char *path, sqlite3 *db)
{
    pthread_mutex_lock(&g_lock);
    vg_sq_ckpt *c = g_list;
    while (c && strcmp(c->path, path) != 0)
        c = c->next;
    if (!c && (c = ckpt_new(path)) != NULL) {
        c->next = g_list;
        g_list = c;
    }
    if (c) c->refs++;
    pthread_mutex_unlock(&g_lock);
    if (c) sqlite3_wal_hook(db, on_commit, c);
    return c; /* NULL: the connection keeps SQLite's automatic checkpoint */
}

void vg_sq_ckpt_detach(vg_sq_ckpt *c)
{
    if (!c) return;
    pthread_mutex_lock(&g_lock);
    bool last = --c->refs == 0;
    if (last) {
        vg_sq_ckpt **p = &g_list;
        while (*p != c)
            p = &(*p)->next;
        *p = c->next;
    }
    pthread_mutex_unlock(&g_lock);
    if (!last) return;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c->path);
    free(c);
}
