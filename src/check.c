/* check.c - see check.h. */
#include "check.h"

#include "core/money.h"

#include <stdio.h>

static void print_problem(void *ud, const char *problem)
{
    (void)ud;
    printf("DIFFERENCE %s\n", problem);
}

int vg_check_store(const vg_store_options *o, const char *who)
{
    vg_store *s = NULL;
    char err[512];
    if (vg_store_open(o, &s, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", who, err);
        return 2;
    }
    vg_audit a;
    int rc = vg_store_audit(s, print_problem, NULL, &a);
    vg_store_close(s);
    if (rc) {
        fprintf(stderr, "%s: the audit could not run\n", who);
        return 2;
    }
    char captured[VG_MONEY_STR_MAX], costs[VG_MONEY_STR_MAX];
    vg_money_format(a.captured_micro, captured);
    vg_money_format(a.completed_cost_micro, costs);
    printf("checked %lld keys, %lld tasks, %lld ledger rows: captured %s, completed tasks cost "
           "%s; %lld difference(s)\n",
           (long long)a.keys, (long long)a.tasks, (long long)a.ledger_rows, captured, costs,
           (long long)a.problems);
    fflush(stdout);
    return a.problems ? 1 : 0;
}
