/*
 * fuzz_media.c - fuzz target for the media prober (src/core/media.c), which reads the
 * headers of files users upload.
 *
 * The input is a whole file, probed both from memory (a buffer of exactly its size, so a
 * read past the end is caught) and through pread on a temporary file.
 * Invariants (abort() when broken):
 *  - both ways give the same result, type, dimensions and duration;
 *  - MEDIA_OK means a known type and dimensions within 1..MEDIA_MAX_DIMENSION;
 *  - anything else leaves dimensions and duration at 0; UNKNOWN has no type;
 *  - the duration is never negative.
 * Seeds: minimal headers of every format; the real fixtures of tests/data/media are the
 * libFuzzer corpus (tests/fuzz/corpus/media/).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/media.h"
#include "fuzz.h"

static unsigned long n_ok, n_broken, n_unknown;
static int tmp_fd = -1;

static enum media_rc probe_file(const uint8_t *data, size_t size, struct media_info *mi)
{
    if (tmp_fd < 0) {
        char path[] = "/tmp/fuzz_media_XXXXXX";
        tmp_fd = mkstemp(path);
        if (tmp_fd < 0)
            abort();
        unlink(path);
    }
    if (ftruncate(tmp_fd, 0) != 0 || pwrite(tmp_fd, data, size, 0) != (ssize_t)size)
        abort();
    return media_probe_fd(tmp_fd, (int64_t)size, mi);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct media_info a, b;
    uint8_t *copy = malloc(size ? size : 1);
    if (size)
        memcpy(copy, data, size);
    enum media_rc ra = media_probe_mem(copy, size, &a);
    free(copy);
    enum media_rc rb = probe_file(data, size, &b);
    if (ra != rb || a.width != b.width || a.height != b.height || a.duration_ms != b.duration_ms ||
        (a.content_type == NULL) != (b.content_type == NULL) ||
        (a.content_type && strcmp(a.content_type, b.content_type) != 0))
        abort();
    if (a.duration_ms < 0)
        abort();
    if (ra == MEDIA_OK) {
        if (a.content_type == NULL || a.width < 1 || a.height < 1 || a.width > MEDIA_MAX_DIMENSION ||
            a.height > MEDIA_MAX_DIMENSION)
            abort();
        n_ok++;
    } else {
        if (a.width != 0 || a.height != 0 || a.duration_ms != 0)
            abort();
        if (ra == MEDIA_UNKNOWN && a.content_type != NULL)
            abort();
        if (ra == MEDIA_UNKNOWN)
            n_unknown++;
        else
            n_broken++;
    }
    return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const uint8_t png[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                    0, 0, 0, 33, 0, 0, 0, 17, 8, 2, 0, 0, 0, 0xdc, 0xfc, 0x52, 0};
    static const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 'J', 'F', 0xFF, 0xFF, 0xC0, 0, 11, 8, 0, 17, 0, 33,
                                   1, 1, 0x11, 0, 0xFF, 0xD9};
    static const uint8_t vp8[30] = {'R', 'I', 'F', 'F', 22, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', ' ',
                                    10, 0, 0, 0, 0x50, 0x0b, 0, 0x9d, 0x01, 0x2a, 33, 0, 17, 0};
    static const uint8_t vp8l[25] = {'R', 'I', 'F', 'F', 17, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'L',
                                     5, 0, 0, 0, 0x2f, 0x20, 0x00, 0x04, 0x00};
    static const uint8_t vp8x[30] = {'R', 'I', 'F', 'F', 22, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X',
                                     10, 0, 0, 0, 0x10, 0, 0, 0, 0xe7, 0x03, 0x00, 0x01, 0x00, 0x00};
    static const uint8_t bmp[26] = {'B', 'M', 0, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0, 33, 0, 0, 0, 17, 0, 0, 0};
    add(png, sizeof png);
    add(jpeg, sizeof jpeg);
    add(vp8, sizeof vp8);
    add(vp8l, sizeof vp8l);
    add(vp8x, sizeof vp8x);
    add(bmp, sizeof bmp);

    /* AVI: RIFF AVI, LIST hdrl, avih (56 bytes): 200000 us per frame, 10 frames, 64 x 48. */
    static uint8_t avi[12 + 12 + 8 + 56];
    memset(avi, 0, sizeof avi);
    memcpy(avi, "RIFF", 4);
    avi[4] = (uint8_t)(sizeof avi - 8);
    memcpy(avi + 8, "AVI LIST", 8);
    avi[16] = 4 + 8 + 56;
    memcpy(avi + 20, "hdrlavih", 8);
    avi[28] = 56;
    avi[32] = 0x40, avi[33] = 0x0d, avi[34] = 0x03; /* 200000 */
    avi[32 + 16] = 10;
    avi[32 + 32] = 64;
    avi[32 + 36] = 48;
    add(avi, sizeof avi);

    /* MP4: ftyp, moov { mvhd v0, trak { tkhd v0 } }. */
    static uint8_t mp4[16 + 8 + 108 + 8 + 92];
    memset(mp4, 0, sizeof mp4);
    put32(mp4, 16);
    memcpy(mp4 + 4, "ftypisom", 8);
    put32(mp4 + 16, sizeof mp4 - 16);
    memcpy(mp4 + 20, "moov", 4);
    put32(mp4 + 24, 108);
    memcpy(mp4 + 28, "mvhd", 4);
    put32(mp4 + 32 + 12, 1000);
    put32(mp4 + 32 + 16, 2000);
    put32(mp4 + 132, 8 + 92);
    memcpy(mp4 + 136, "trak", 4);
    put32(mp4 + 140, 92);
    memcpy(mp4 + 144, "tkhd", 4);
    put32(mp4 + 148 + 76, 64u << 16);
    put32(mp4 + 148 + 80, 48u << 16);
    add(mp4, sizeof mp4);
    /* The same with qt brand and a 64-bit moov size. */
    static uint8_t mov[sizeof mp4 + 8];
    memcpy(mov, mp4, 16);
    memcpy(mov + 8, "qt  ", 4);
    put32(mov + 16, 1);
    memcpy(mov + 20, "moov", 4);
    put32(mov + 24, 0);
    put32(mov + 28, sizeof mov - 16);
    memcpy(mov + 32, mp4 + 24, sizeof mp4 - 24);
    add(mov, sizeof mov);
}

void fuzz_report(void)
{
    printf("fuzz_media: %lu ok, %lu broken, %lu unknown\n", n_ok, n_broken, n_unknown);
}
