/* format.c - see format.h. */
#include "cli/format.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

void vg_cli_printable(const char *in, char *out, size_t out_size)
{
    size_t i = 0;
    for (; *in && i + 1 < out_size; in++)
        out[i++] = ((unsigned char)*in < 0x20 || *in == 0x7f) ? ' ' : *in;
    out[i] = '\0';
}

static const char *value_text(const json_t *v, char *out, size_t out_size)
{
    out[0] = '\0';
    if (json_is_string(v))
        vg_cli_printable(json_string_value(v), out, out_size);
    else if (json_is_integer(v))
        snprintf(out, out_size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, out_size, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(out, out_size, "%s", json_is_true(v) ? "true" : "false");
    return out;
}

const char *vg_cli_json_text(const json_t *obj, const char *key, char *out, size_t out_size)
{
    return value_text(json_object_get(obj, key), out, out_size);
}

const char *vg_cli_format_time(int64_t unix_s, char *out, size_t out_size)
{
    out[0] = '\0';
    if (unix_s <= 0) return out;
    time_t t = (time_t)unix_s;
    struct tm tm;
    if (gmtime_r(&t, &tm)) strftime(out, out_size, "%Y-%m-%d %H:%M:%SZ", &tm);
    return out;
}

void vg_cli_print_json(const json_t *value)
{
    json_dumpf(value, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
}

static const char *time_field(const json_t *obj, const char *key, char *out, size_t out_size)
{
    return vg_cli_format_time(json_integer_value(json_object_get(obj, key)), out, out_size);
}

static void line(FILE *out, const char *label, const char *value)
{
    if (value && *value) fprintf(out, "%-11s %s\n", label, value);
}

/* "4 s, 480p, 16:9, 864x496, seed 42" from whichever of those fields are present. */
static void shape_text(const json_t *task, char *out, size_t out_size)
{
    static const struct {
        const char *key, *prefix, *suffix;
    } parts[] = {{"seconds", "", " s"},
                 {"resolution", "", ""},
                 {"ratio", "", ""},
                 {"size", "", ""},
                 {"seed", "seed ", ""}};
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof parts / sizeof parts[0] && n < out_size; i++) {
        char v[64];
        if (!*vg_cli_json_text(task, parts[i].key, v, sizeof v)) continue;
        n += (size_t)snprintf(out + n, out_size - n, "%s%s%s%s", n ? ", " : "", parts[i].prefix, v,
                              parts[i].suffix);
    }
}

static void print_task_error(FILE *out, const json_t *task)
{
    const json_t *err = json_object_get(task, "error");
    if (!json_is_object(err)) return;
    char code[128], msg[512], text[700];
    vg_cli_json_text(err, "code", code, sizeof code);
    vg_cli_json_text(err, "message", msg, sizeof msg);
    snprintf(text, sizeof text, "%s%s%s", code, *code && *msg ? ": " : "", msg);
    line(out, "error:", text);
}

void vg_cli_print_task(FILE *out, const json_t *task)
{
    char a[256], b[256], text[600];
    line(out, "id:", vg_cli_json_text(task, "id", a, sizeof a));
    snprintf(text, sizeof text, "%s (%s%%)", vg_cli_json_text(task, "status", a, sizeof a),
             vg_cli_json_text(task, "progress", b, sizeof b));
    line(out, "status:", text);
    line(out, "model:", vg_cli_json_text(task, "model", a, sizeof a));
    shape_text(task, text, sizeof text);
    line(out, "video:", text);
    line(out, "created:", time_field(task, "created_at", a, sizeof a));
    line(out, "completed:", time_field(task, "completed_at", a, sizeof a));
    line(out, "expires:", time_field(task, "expires_at", a, sizeof a));
    line(out, "cost:", vg_cli_json_text(task, "cost", a, sizeof a));
    const json_t *output = json_object_get(task, "output");
    line(out, "video_url:", vg_cli_json_text(output, "video_url", text, sizeof text));
    line(out, "last_frame:", vg_cli_json_text(output, "last_frame_url", text, sizeof text));
    print_task_error(out, task);
}

/* How a table cell is derived from a row object. */
typedef enum { CELL_TEXT, CELL_PERCENT, CELL_TIME, CELL_KEY_STATE } cell_kind;

typedef struct {
    const char *header;
    const char *key;
    int width; /* 0 = last column, not padded */
    cell_kind kind;
} column;

/* A key is revoked if the server says so in any of the ways it might. */
static const char *key_state(const json_t *row, char *out, size_t out_size)
{
    const json_t *revoked_at = json_object_get(row, "revoked_at");
    if (json_is_true(json_object_get(row, "revoked")) || (revoked_at && !json_is_null(revoked_at)))
        return "revoked";
    if (*vg_cli_json_text(row, "status", out, out_size)) return out;
    return "active";
}

static const char *cell(const json_t *row, const column *c, char *out, size_t out_size)
{
    switch (c->kind) {
    case CELL_PERCENT: {
        char v[32];
        if (*vg_cli_json_text(row, c->key, v, sizeof v))
            snprintf(out, out_size, "%s%%", v);
        else
            out[0] = '\0';
        return out;
    }
    case CELL_TIME:
        return time_field(row, c->key, out, out_size);
    case CELL_KEY_STATE:
        return key_state(row, out, out_size);
    case CELL_TEXT:
        break;
    }
    return vg_cli_json_text(row, c->key, out, out_size);
}

static void print_row(FILE *out, const column *cols, size_t ncols, const json_t *row)
{
    for (size_t i = 0; i < ncols; i++) {
        char buf[256];
        const char *v = row ? cell(row, &cols[i], buf, sizeof buf) : cols[i].header;
        if (cols[i].width)
            fprintf(out, "%-*s  ", cols[i].width, v);
        else
            fprintf(out, "%s\n", v);
    }
}

static void print_table(FILE *out, const column *cols, size_t ncols, const json_t *list)
{
    const json_t *data = json_object_get(list, "data");
    print_row(out, cols, ncols, NULL);
    size_t i;
    const json_t *row;
    json_array_foreach(data, i, row) print_row(out, cols, ncols, row);
}

void vg_cli_print_task_table(FILE *out, const json_t *list)
{
    static const column cols[] = {{"ID", "id", 31, CELL_TEXT},
                                  {"STATUS", "status", 9, CELL_TEXT},
                                  {"PROGRESS", "progress", 8, CELL_PERCENT},
                                  {"MODEL", "model", 24, CELL_TEXT},
                                  {"CREATED", "created_at", 0, CELL_TIME}};
    print_table(out, cols, sizeof cols / sizeof cols[0], list);
}

void vg_cli_print_key_table(FILE *out, const json_t *list)
{
    static const column cols[] = {{"ID", "id", 30, CELL_TEXT},
                                  {"NAME", "name", 20, CELL_TEXT},
                                  {"ROLE", "role", 6, CELL_TEXT},
                                  {"BALANCE", "balance", 14, CELL_TEXT},
                                  {"STATE", "status", 8, CELL_KEY_STATE},
                                  {"CREATED", "created_at", 0, CELL_TIME}};
    print_table(out, cols, sizeof cols / sizeof cols[0], list);
}

/* Joins an array of scalars with ", ". */
static const char *array_text(const json_t *arr, char *out, size_t out_size)
{
    size_t n = 0, i;
    const json_t *v;
    out[0] = '\0';
    json_array_foreach(arr, i, v)
    {
        char item[128];
        value_text(v, item, sizeof item);
        if (n < out_size) n += (size_t)snprintf(out + n, out_size - n, "%s%s", i ? ", " : "", item);
    }
    return out;
}

/* One level of nesting is flattened ("limits.max_active_tasks"); deeper objects are skipped. */
static void print_fields_under(FILE *out, const json_t *obj, const char *prefix, int depth)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        char name[48], label[112], text[512];
        vg_cli_printable(key, name, sizeof name);
        snprintf(label, sizeof label, "%.48s%s%s:", prefix, prefix[0] ? "." : "", name);
        size_t klen = strlen(key);
        if (json_is_object(v)) {
            label[strlen(label) - 1] = '\0'; /* the nested labels carry the colon */
            if (depth == 0) print_fields_under(out, v, label, depth + 1);
            continue;
        }
        if (json_is_null(v)) continue;
        if (json_is_array(v)) array_text(v, text, sizeof text);
        /* Timestamps are unix seconds on the wire; people read dates. */
        else if (json_is_integer(v) && klen > 3 && strcmp(key + klen - 3, "_at") == 0)
            vg_cli_format_time(json_integer_value(v), text, sizeof text);
        else
            value_text(v, text, sizeof text);
        fprintf(out, "%-25s %s\n", label, text);
    }
}

void vg_cli_print_fields(FILE *out, const json_t *obj)
{
    print_fields_under(out, obj, "", 0);
}

void vg_cli_print_admin_task_table(FILE *out, const json_t *list)
{
    static const column cols[] = {
        {"ID", "id", 31, CELL_TEXT},        {"KEY", "key_id", 30, CELL_TEXT},
        {"STATUS", "status", 9, CELL_TEXT}, {"MODEL", "model", 24, CELL_TEXT},
        {"COST", "cost", 12, CELL_TEXT},    {"CREATED", "created_at", 0, CELL_TIME}};
    print_table(out, cols, sizeof cols / sizeof cols[0], list);
}

void vg_cli_print_ledger_table(FILE *out, const json_t *list)
{
    static const column cols[] = {{"ID", "id", 8, CELL_TEXT},
                                  {"KIND", "kind", 10, CELL_TEXT},
                                  {"AMOUNT", "amount", 14, CELL_TEXT},
                                  {"TASK", "task_id", 31, CELL_TEXT},
                                  {"WHEN", "created_at", 20, CELL_TIME},
                                  {"NOTE", "note", 0, CELL_TEXT}};
    print_table(out, cols, sizeof cols / sizeof cols[0], list);
}

void vg_cli_print_usage_table(FILE *out, const json_t *usage)
{
    static const column by_model[] = {{"MODEL", "model", 30, CELL_TEXT},
                                      {"TASKS", "tasks", 8, CELL_TEXT},
                                      {"TOKENS", "tokens", 14, CELL_TEXT},
                                      {"COST", "cost", 0, CELL_TEXT}};
    static const column by_key[] = {{"KEY", "key_id", 30, CELL_TEXT},
                                    {"NAME", "name", 20, CELL_TEXT},
                                    {"TASKS", "tasks", 8, CELL_TEXT},
                                    {"TOKENS", "tokens", 14, CELL_TEXT},
                                    {"COST", "cost", 0, CELL_TEXT}};
    const char *g = json_string_value(json_object_get(usage, "group_by"));
    bool keys = g && !strcmp(g, "key");
    const column *cols = keys ? by_key : by_model;
    size_t n = keys ? sizeof by_key / sizeof by_key[0] : sizeof by_model / sizeof by_model[0];
    char from[32], to[32], cur[16];
    fprintf(
        out, "usage from %s to %s (%s)\n",
        vg_cli_format_time(json_integer_value(json_object_get(usage, "from")), from, sizeof from),
        vg_cli_format_time(json_integer_value(json_object_get(usage, "to")), to, sizeof to),
        vg_cli_json_text(usage, "currency", cur, sizeof cur));
    print_table(out, cols, n, usage);
    /* The total row names the group "all": shown under the first column. */
    const json_t *total = json_object_get(usage, "total");
    if (total) print_row(out, cols, n, total);
}
