/*
 * copy.h - `vidgated copy`: moving a stopped single node to many. Its store (DIR/vidgate.db) goes
 * into a new PostgreSQL database (store/copy.h), its content (DIR/files: results and asset bytes)
 * to the directory or bucket the new nodes share (net/content.h), then the target is checked as
 * `vidgated check` would (check.h).
 *
 *   vidgated copy --from DIR --to DATABASE_URL [--content-to URL]
 *   vidgated copy --from DIR --content-to URL          (the content alone: rerunnable)
 *
 * The content copy skips what the target already holds with the same size, so it can run first
 * while the old node still serves (the bulk), and again after it stopped (the rest).
 */
#ifndef VG_COPY_H
#define VG_COPY_H

/** The command; argv[0] is "copy". Exit status: 0 done and the target clean, 1 failed or the
 *  check found differences, 2 bad usage. */
int vg_copy_main(int argc, char **argv);

#endif
