/*
 * console.h - the web console (console/ at the repository root: plain HTML, CSS and JavaScript
 * that call the public JSON API) served by vidgated at /console/. See console.c for the rules.
 */
#ifndef VG_API_CONSOLE_H
#define VG_API_CONSOLE_H
#include <stddef.h>

/* Where an installed console lives when none is found next to the binary. */
#define VG_CONSOLE_INSTALLED_DIR "/usr/share/vidgate/console"

/**
 * The directory the console is served from, into out: `configured` when it is set ("off" = not
 * served: out = ""), else the first of <binary's dir>/../console, <binary's dir>/console and
 * VG_CONSOLE_INSTALLED_DIR that holds an index.html, else "". Never fails; call once at start.
 */
void vg_console_dir_resolve(const char *configured, char *out, size_t outlen);

#endif
