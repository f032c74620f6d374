/* progress.c - see progress.h. */
#include "cli/progress.h"

#include <string.h>
#include <unistd.h>

#include "cli/format.h"

#define BAR_CELLS 30

void vg_cli_progress_init(vg_cli_progress *p, FILE *out, const char *id, int quiet)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = isatty(fileno(out));
    p->quiet = quiet;
    p->last_progress = -1;
    vg_cli_printable(id, p->id, sizeof p->id);
}

const char *vg_cli_format_elapsed(int64_t ms, char *out, size_t out_size)
{
    int64_t s = ms < 0 ? 0 : ms / 1000;
    if (s >= 3600)
        snprintf(out, out_size, "%d:%02d:%02d", (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
    else
        snprintf(out, out_size, "%d:%02d", (int)(s / 60), (int)(s % 60));
    return out;
}

static void draw_bar(vg_cli_progress *p, const char *status, long progress, int64_t elapsed_ms)
{
    char bar[BAR_CELLS + 1], elapsed[16];
    int filled = (int)(progress * BAR_CELLS / 100);
    for (int i = 0; i < BAR_CELLS; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[BAR_CELLS] = '\0';
    /* \r and "erase to end of line" redraw in place even when the new line is shorter. */
    fprintf(p->out, "\r\033[K[%s] %3ld%%  %s  %s", bar, progress, status,
            vg_cli_format_elapsed(elapsed_ms, elapsed, sizeof elapsed));
    fflush(p->out);
    p->drawn = 1;
}

static void print_change(vg_cli_progress *p, const char *status, long progress, int64_t elapsed_ms)
{
    if (progress == p->last_progress && strcmp(status, p->last_status) == 0) return;
    fprintf(p->out, "%s %s %ld%% %llds\n", p->id, status, progress, (long long)(elapsed_ms / 1000));
    fflush(p->out);
}

void vg_cli_progress_update(vg_cli_progress *p, const char *status, long progress,
                            int64_t elapsed_ms)
{
    char safe_status[32];
    vg_cli_printable(status, safe_status, sizeof safe_status);
    if (progress < 0) progress = 0;
    if (progress > 100) progress = 100;
    if (!p->quiet) {
        if (p->tty)
            draw_bar(p, safe_status, progress, elapsed_ms);
        else
            print_change(p, safe_status, progress, elapsed_ms);
    }
    snprintf(p->last_status, sizeof p->last_status, "%s", safe_status);
    p->last_progress = progress;
}

void vg_cli_progress_end(vg_cli_progress *p, int keep)
{
    if (!p->drawn) return;
    fputs(keep ? "\n" : "\r\033[K", p->out);
    fflush(p->out);
    p->drawn = 0;
}
