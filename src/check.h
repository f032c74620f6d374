/*
 * check.h - `vidgated check`: the audit of a store (every balance and hold recomputed from the
 * ledger, every task's money state from its status), printed. Read-only; safe while nodes run.
 * Also run by `vidgated copy` on the database it filled.
 */
#ifndef VG_CHECK_H
#define VG_CHECK_H
#include "store/store.h"

/**
 * Audits the store o opens: prints one "DIFFERENCE …" line per problem and a summary to stdout.
 * 0 clean, 1 differences, 2 the audit could not run (reason on stderr, after who).
 */
int vg_check_store(const vg_store_options *o, const char *who);

#endif
