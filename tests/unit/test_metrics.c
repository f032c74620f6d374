/* test_metrics.c - the metrics registry and its exposition (common/metrics.h): series by route
 * template and method class, cumulative histogram buckets, label escaping, the channel cap, exact
 * money amounts; and metrics_token as a secret of the configuration (environment only). The
 * registry is process-wide, so each test uses its own labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/config.h"
#include "common/limits.h"
#include "common/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The exposition as a string (caller frees). */
static char *exposition(void)
{
    vg_metrics_out o = {0};
    vg_metrics_write(&o, 0);
    char *s = strndup(o.text, o.len);
    vg_metrics_out_free(&o);
    return s;
}

static void assert_has(const char *text, const char *line)
{
    if (!strstr(text, line)) fail_msg("missing: %s", line);
}

static void test_http_series(void **state)
{
    (void)state;
    const char *methods[] = {"GET", "POST"};
    const char *patterns[] = {"/a/{id}", "/a"};
    vg_metrics_http_routes(2, methods, patterns);
    vg_metrics_http_request(0, "GET", 3, 200, 700);
    vg_metrics_http_request(0, "GET", 3, 200, 3000000);
    vg_metrics_http_request(1, "POST", 4, 201, 10);
    vg_metrics_http_request(-1, "BREW", 4, 404, 10);
    vg_metrics_http_request(-1, "GET", 3, 404, 10);
    vg_metrics_http_request(7, "GET", 3, 404, 10); /* not a registered index: unmatched */
    char *t = exposition();
    assert_has(t, "# TYPE vidgate_http_requests_total counter\n");
    assert_has(t, "vidgate_http_requests_total{route=\"/a/{id}\",method=\"GET\",code=\"200\"} 2\n");
    assert_has(t, "vidgate_http_requests_total{route=\"/a\",method=\"POST\",code=\"201\"} 1\n");
    assert_has(t, "{route=\"unmatched\",method=\"other\",code=\"404\"} 1\n");
    assert_has(t, "{route=\"unmatched\",method=\"GET\",code=\"404\"} 2\n");
    const char *b =
        "vidgate_http_request_duration_seconds_bucket{route=\"/a/{id}\",method=\"GET\",";
    char line[256];
    snprintf(line, sizeof line, "%sle=\"0.0005\"} 0\n", b);
    assert_has(t, line);
    snprintf(line, sizeof line, "%sle=\"0.001\"} 1\n", b); /* cumulative from here on */
    assert_has(t, line);
    snprintf(line, sizeof line, "%sle=\"2.5\"} 1\n", b);
    assert_has(t, line);
    snprintf(line, sizeof line, "%sle=\"5\"} 2\n", b);
    assert_has(t, line);
    snprintf(line, sizeof line, "%sle=\"+Inf\"} 2\n", b);
    assert_has(t, line);
    assert_has(t, "vidgate_http_request_duration_seconds_sum{route=\"/a/{id}\",method=\"GET\"} "
                  "3.000700\n");
    assert_has(t, "vidgate_http_request_duration_seconds_count{route=\"/a/{id}\",method=\"GET\"} "
                  "2\n");
    assert_null(strstr(t, "code=\"999\""));
    free(t);
}

static void test_counters_gauges_histograms(void **state)
{
    (void)state;
    vg_metrics_inc(VG_MC_WEBHOOK_DELIVERED);
    vg_metrics_inc(VG_MC_WEBHOOK_FAILED);
    vg_metrics_gauge_add(VG_MG_RENDERS, 2);
    vg_metrics_gauge_add(VG_MG_RENDERS, -1);
    vg_metrics_observe(VG_MH_RENDER, 3.5);
    char *t = exposition();
    assert_has(t, "vidgate_webhook_deliveries_total{result=\"delivered\"} 1\n");
    assert_has(t, "vidgate_webhook_deliveries_total{result=\"retry\"} 0\n");
    assert_has(t, "vidgate_webhook_deliveries_total{result=\"failed\"} 1\n");
    assert_has(t, "vidgate_renders_in_progress 1\n");
    assert_has(t, "vidgate_render_duration_seconds_bucket{le=\"2\"} 0\n");
    assert_has(t, "vidgate_render_duration_seconds_bucket{le=\"4\"} 1\n");
    assert_has(t, "vidgate_render_duration_seconds_count 1\n");
    assert_has(t, "# TYPE process_start_time_seconds gauge\n");
    assert_has(t, "vidgate_build_info{version=");
    free(t);
}

static void test_channels_escaped_and_capped(void **state)
{
    (void)state;
    vg_metrics_upstream("a\"b\\c\nd", VG_MU_CREATE, VG_MU_OK);
    vg_metrics_upstream("a\"b\\c\nd", VG_MU_CREATE, VG_MU_TRANSIENT);
    vg_metrics_upstream("a\"b\\c\nd", VG_MU_LIST, VG_MU_OK);
    vg_metrics_channel_cooldown("a\"b\\c\nd", 5000);
    for (int i = 0; i < 2 * VG_METRICS_MAX_CHANNELS; i++) {
        char name[32];
        snprintf(name, sizeof name, "ch%d", i);
        vg_metrics_upstream(name, VG_MU_GET, VG_MU_OK);
    }
    vg_metrics_out o = {0};
    vg_metrics_write(&o, 2500); /* 2.5 s before the cool-down ends */
    char *t = strndup(o.text, o.len);
    vg_metrics_out_free(&o);
    const char *ch = "channel=\"a\\\"b\\\\c\\nd\"";
    char line[256];
    snprintf(line, sizeof line, "vidgate_upstream_requests_total{%s,kind=\"create\"} 2\n", ch);
    assert_has(t, line);
    snprintf(line, sizeof line, "vidgate_upstream_requests_total{%s,kind=\"list\"} 1\n", ch);
    assert_has(t, line);
    snprintf(line, sizeof line,
             "vidgate_upstream_errors_total{%s,kind=\"create\",class=\"transient\"} 1\n", ch);
    assert_has(t, line);
    snprintf(line, sizeof line, "vidgate_channel_cooldown_seconds{%s} 2.5\n", ch);
    assert_has(t, line);
    /* a name past the cap is counted under "other", never as a new series */
    assert_has(t, "vidgate_upstream_requests_total{channel=\"other\",kind=\"get\"}");
    int series = 0;
    for (const char *p = t; (p = strstr(p, "\nvidgate_upstream_requests_total{")); p++)
        series++;
    assert_true(series <= VG_METRICS_MAX_CHANNELS + 1);
    free(t);
}

static void test_money_exact(void **state)
{
    (void)state;
    vg_metrics_init("EUR");
    vg_metrics_captured(1500000);
    vg_metrics_captured(1);
    vg_metrics_captured(-5); /* never lowers a counter */
    char *t = exposition();
    assert_has(t, "vidgate_money_captured_total{currency=\"EUR\"} 1.500001\n");
    free(t);
    vg_metrics_out o = {0};
    vg_metrics_sample_money(&o, "x", -2500000);
    assert_string_equal(o.text, "x{currency=\"EUR\"} -2.500000\n");
    vg_metrics_out_free(&o);
}

static void test_token_is_a_secret(void **state)
{
    (void)state;
    vg_config c;
    char err[256];
    setenv("VIDGATE_METRICS_TOKEN", "tok-123", 1);
    char *argv[] = {"vidgated", NULL};
    assert_int_equal(vg_config_load(&c, 1, argv, err, sizeof err), 0);
    assert_string_equal(c.metrics_token, "tok-123");
    json_t *j = vg_config_to_json(&c);
    assert_null(json_object_get(j, "metrics_token"));
    json_decref(j);
    vg_config_free(&c);
    char *flag[] = {"vidgated", "--metrics-token", "x", NULL};
    assert_int_equal(vg_config_load(&c, 3, flag, err, sizeof err), -1);
    vg_config_free(&c);
    unsetenv("VIDGATE_METRICS_TOKEN");
    char path[] = "/tmp/vg-metrics-conf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "{\"metrics_token\": \"tok-123\"}";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char *file[] = {"vidgated", "--config", path, NULL};
    assert_int_equal(vg_config_load(&c, 3, file, err, sizeof err), -1);
    assert_non_null(strstr(err, "VIDGATE_METRICS_TOKEN"));
    vg_config_free(&c);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_series),
        cmocka_unit_test(test_counters_gauges_histograms),
        cmocka_unit_test(test_channels_escaped_and_capped),
        cmocka_unit_test(test_money_exact),
        cmocka_unit_test(test_token_is_a_secret),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
