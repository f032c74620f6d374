/*
 * interrupt.h - Ctrl-C while the CLI waits for a task or downloads.
 *
 * While armed, SIGINT only sets a flag: the poll loop's sleep returns early, a transfer in progress
 * aborts from its progress callback, and the command unwinds normally, so the progress line is
 * cleared and a partial download removed before the process exits with VG_CLI_INTERRUPTED. A
 * second Ctrl-C while unwinding is not special-cased; unwinding takes milliseconds.
 * Disarming restores the previous handler. Process-wide state; the CLI is single-threaded.
 */
#ifndef VG_CLI_INTERRUPT_H
#define VG_CLI_INTERRUPT_H
#include <stdint.h>

#include "cli/ctx.h"

/** Installs the flag-setting SIGINT handler (nestable: only the outermost call installs). */
void vg_cli_interrupt_arm(void);
/** Undoes one vg_cli_interrupt_arm(); the outermost restores the previous handler. */
void vg_cli_interrupt_disarm(void);
/** 1 once SIGINT arrived while armed. */
int vg_cli_interrupted(void);
/** Sleeps ms milliseconds; returns early with VG_CLI_INTERRUPTED on Ctrl-C, else VG_CLI_OK. */
vg_cli_status vg_cli_sleep_ms(int64_t ms);

#endif
