/* interrupt.c - see interrupt.h. */
#include "cli/interrupt.h"

#include <signal.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t got_sigint;
static int depth;
static struct sigaction previous;

static void on_sigint(int sig)
{
    (void)sig;
    got_sigint = 1;
}

void vg_cli_interrupt_arm(void)
{
    if (depth++ > 0) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocking sleep should wake up at once. */
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, &previous);
}

void vg_cli_interrupt_disarm(void)
{
    if (depth == 0 || --depth > 0) return;
    sigaction(SIGINT, &previous, NULL);
}

int vg_cli_interrupted(void)
{
    return got_sigint != 0;
}

vg_cli_status vg_cli_sleep_ms(int64_t ms)
{
    /* Short slices, so a signal that lands between the check and the sleep costs at most one. */
    while (ms > 0 && !got_sigint) {
        int64_t slice = ms < 100 ? ms : 100;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)slice * 1000000L};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
    return got_sigint ? VG_CLI_INTERRUPTED : VG_CLI_OK;
}
