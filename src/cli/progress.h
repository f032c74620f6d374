/*
 * progress.h - the progress display while waiting for a task, on stderr.
 *
 * On a terminal: one line redrawn in place, "[#######.......]  45%  running  0:07". Otherwise
 * (logs, pipes, CI): a plain line each time the status or progress changes,
 * "task_… running 45% 7s", so the output stays readable once captured. Quiet mode draws nothing.
 * The owner calls vg_cli_progress_end() on every exit path so a terminal is never left with a
 * half-drawn line.
 */
#ifndef VG_CLI_PROGRESS_H
#define VG_CLI_PROGRESS_H
#include <stdint.h>
#include <stdio.h>

typedef struct {
    FILE *out;
    int tty;
    int quiet;
    int drawn; /* a terminal line is on screen */
    char id[64];
    char last_status[32];
    long last_progress;
} vg_cli_progress;

/** Prepares a display for task id on out (a terminal or not is decided here). */
void vg_cli_progress_init(vg_cli_progress *p, FILE *out, const char *id, int quiet);
/** Shows the task's state after elapsed_ms of waiting. */
void vg_cli_progress_update(vg_cli_progress *p, const char *status, long progress,
                            int64_t elapsed_ms);
/**
 * Ends the display: keep = 1 leaves the last terminal line on screen (finished), keep = 0 erases
 * it (interrupted or failed, so the message that follows stands alone).
 */
void vg_cli_progress_end(vg_cli_progress *p, int keep);

/** "m:ss" or "h:mm:ss". Returns out. */
const char *vg_cli_format_elapsed(int64_t ms, char *out, size_t out_size);

#endif
