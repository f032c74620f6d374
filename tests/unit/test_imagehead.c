/*
 * test_imagehead.c - image sizes from headers: each format, EXIF orientation, side clamping, and
 * every truncation of every sample refused without reading past the end (ASan checks that).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/imagehead.h"

#include <stdlib.h>
#include <string.h>

#define S(lit) (const unsigned char *)(lit), sizeof(lit) - 1

typedef struct {
    const char *name;
    const unsigned char *data;
    size_t len;
    int w, h;
} sample;

/* A JPEG: SOI, APP0, APP1 Exif (big-endian TIFF, orientation 6), SOF0 of 300x200 (h, w). */
static const unsigned char jpeg_rot[] = {
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x4a, 0x46, /* APP0, 2 bytes of payload */
    0xff, 0xe1, 0x00, 0x22, 'E',  'x',  'i',  'f',  0,    0,    'M',  'M',
    0,    0x2a, 0,    0,    0,    8,    0,    1,                         /* one IFD entry */
    0x01, 0x12, 0,    3,    0,    0,    0,    1,    0,    6,    0,    0, /* orientation 6 */
    0,    0,    0,    0,                                                 /* next IFD */
    0xff, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0xc8, 0x01, 0x2c, 0x03, 0x01,
    0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xda};
static const unsigned char jpeg_plain[] = {0xff, 0xd8, 0xff, 0xc2, 0x00, 0x0b, 0x08, 0x02,
                                           0x58, 0x03, 0x20, 0x01, 0x01, 0x11, 0x00};
static const unsigned char png[] = {0x89, 'P', 'N',  'G',  '\r', '\n', 0x1a, '\n', 0,    0,
                                    0,    13,  'I',  'H',  'D',  'R',  0,    0,    0x17, 0x60,
                                    0,    0,   0x0f, 0xa0, 8,    2,    0,    0,    0};
static const unsigned char gif[] = {'G', 'I', 'F', '8', '9', 'a', 0x40, 0x01, 0xf0, 0x00, 0};
static const unsigned char bmp[] = {'B',  'M',  0, 0, 0,    0,    0,    0,   0, 0,
                                    0,    0,    0, 0, 40,   0,    0,    0, /* BITMAPINFOHEADER */
                                    0x80, 0x02, 0, 0, 0x20, 0xfe, 0xff, 0xff}; /* 640 x -480 */
static const unsigned char webp_lossy[] = {'R', 'I', 'F', 'F',  0,    0,    0,    0,    'W',  'E',
                                           'B', 'P', 'V', 'P',  '8',  ' ',  0,    0,    0,    0,
                                           0,   0,   0,   0x9d, 0x01, 0x2a, 0x00, 0x04, 0x00, 0x03};
static const unsigned char webp_lossless[] = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P',
                                              'V', 'P', '8', 'L', 0, 0, 0, 0, 0x2f,
                                              /* w-1 = 99, h-1 = 49: 99 | 49 << 14 */
                                              0x63, 0x40, 0x0c, 0x00, 0, 0, 0, 0, 0};
static const unsigned char webp_ext[] = {
    'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E',  'B',  'P',  'V',  'P',  '8',
    'X', 0,   0,   0,   0, 0, 0, 0, 0,   0x6f, 0x17, 0x00, 0x6f, 0x17, 0x00}; /* 6000 x 6000 */
static const unsigned char tiff[] = {
    'I',  'I',  0x2a, 0, 8, 0, 0,    0,    3,    0,    0x00, 0x01,
    3,    0,    1,    0, 0, 0, 0x40, 0x01, 0,    0,             /* w 320 */
    0x01, 0x01, 4,    0, 1, 0, 0,    0,    0xf0, 0x00, 0,    0, /* h 240 */
    0x12, 0x01, 3,    0, 1, 0, 0,    0,    0x08, 0x00, 0,    0, /* o 8 */
    0,    0,    0,    0};

static const sample samples[] = {
    {"jpeg exif 6", jpeg_rot, sizeof jpeg_rot, 200, 300},
    {"jpeg progressive", jpeg_plain, sizeof jpeg_plain, 800, 600},
    {"png", png, sizeof png, 5984, 4000},
    {"gif", gif, sizeof gif, 320, 240},
    {"bmp top-down", bmp, sizeof bmp, 640, 480},
    {"webp lossy", webp_lossy, sizeof webp_lossy, 1024, 768},
    {"webp lossless", webp_lossless, sizeof webp_lossless, 100, 50},
    {"webp extended", webp_ext, sizeof webp_ext, 6000, 6000},
    {"tiff orientation 8", tiff, sizeof tiff, 240, 320},
};

static void test_formats(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        int w = 0, h = 0;
        char why[128] = "";
        print_message("%s\n", samples[i].name);
        assert_int_equal(
            vg_imagehead_size(samples[i].data, samples[i].len, &w, &h, why, sizeof why), VG_OK);
        assert_int_equal(w, samples[i].w);
        assert_int_equal(h, samples[i].h);
    }
}

/* Every prefix is copied into a buffer of exactly its length, so ASan sees any read past it. */
static void test_truncations(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        for (size_t n = 0; n < samples[i].len; n++) {
            unsigned char *copy = malloc(n ? n : 1);
            memcpy(copy, samples[i].data, n);
            int w = -1, h = -1;
            vg_status rc = vg_imagehead_size(copy, n, &w, &h, NULL, 0);
            if (rc == VG_OK) assert_true(w > 0 && h > 0); /* trailing bytes it did not need */
            free(copy);
        }
    }
}

static void test_refusals(void **state)
{
    (void)state;
    int w, h;
    char why[128];
    assert_int_equal(vg_imagehead_size(S("%PDF-1.4 not an image"), &w, &h, why, sizeof why),
                     VG_INVALID);
    assert_non_null(strstr(why, "not a JPEG, PNG"));
    assert_int_equal(vg_imagehead_size(S("\x89PNG\r\n\x1a\nnot really"), &w, &h, why, sizeof why),
                     VG_INVALID);
    assert_non_null(strstr(why, "PNG header"));
    assert_int_equal(vg_imagehead_size(NULL, 10, &w, &h, why, sizeof why), VG_INVALID);
    /* a JPEG whose scan starts before any frame header */
    assert_int_equal(vg_imagehead_size(S("\xff\xd8\xff\xda\x00\x02"), &w, &h, NULL, 0), VG_INVALID);
    /* sides beyond INT32_MAX are clamped, so a bounds check refuses them */
    unsigned char big[sizeof png];
    memcpy(big, png, sizeof png);
    memset(big + 16, 0xff, 4);
    assert_int_equal(vg_imagehead_size(big, sizeof big, &w, &h, NULL, 0), VG_OK);
    assert_int_equal(w, INT32_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
