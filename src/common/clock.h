/*
 * clock.h - wall-clock and monotonic time. Stored times are unix seconds or milliseconds (UTC);
 * durations and timeouts use the monotonic clock.
 */
#ifndef VG_CLOCK_H
#define VG_CLOCK_H
#include <stdint.h>
#include <time.h>

static inline int64_t vg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t vg_now_s(void)
{
    return vg_now_ms() / 1000;
}

static inline int64_t vg_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t vg_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
