/*
 * diag.h - how the engine records why something failed: its own reasons, and FFmpeg's.
 *
 * Reasons go into a caller-supplied buffer; the first one recorded wins (later calls leave a
 * non-empty buffer alone), so the innermost failure explains the job.
 *
 * FFmpeg has one process-wide log callback. vg_diag_init() installs ours once (idempotent,
 * thread-safe); it drops everything below AV_LOG_ERROR and keeps the first error line per thread
 * in thread-local storage. A render runs on one thread with no FFmpeg worker threads, so the line a
 * thread sees is the one its own job caused. Nothing is ever printed.
 */
#ifndef VG_ENGINE_DIAG_H
#define VG_ENGINE_DIAG_H
#include <stddef.h>

/** Installs the FFmpeg log capture (first call only). */
void vg_diag_init(void);
/** Forgets this thread's captured FFmpeg line; call before a step whose failure is reported. */
void vg_diag_reset(void);

/** Records a formatted reason into err unless one is already there. err may be NULL. */
void vg_diag_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Records "what: <FFmpeg's logged line, else the text of averr>" the same way. */
void vg_diag_av(char *err, size_t errlen, int averr, const char *what);

#endif
