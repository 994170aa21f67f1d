/*
 * test_media.c - media probing (core/media.h) on small real files made with ffmpeg
 * (tests/data/media/, README there), on hand-made headers for the cases ffmpeg does not
 * write (WebP VP8X, 64-bit MP4 box sizes, mvhd version 1), and on hostile input: every
 * prefix of every file, boxes that claim to reach past their parent, loops of empty boxes.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../test.h"
#include "core/media.h"

static unsigned char *slurp(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", getenv("MEDIA_DIR"), name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    unsigned char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void file_case(const char *name, const char *type, int64_t w, int64_t h, int64_t dur)
{
    char path[1024];
    struct media_info mi;
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", getenv("MEDIA_DIR"), name);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && fstat(fd, &st) == 0, "%s: fixture present", name);
    if (fd < 0)
        return;
    enum media_rc rc = media_probe_fd(fd, st.st_size, &mi);
    close(fd);
    CHECK_INT_EQ(rc, MEDIA_OK, "%s: probed", name);
    CHECK_STR_EQ(mi.content_type, type, "%s: type", name);
    CHECK(mi.width == w && mi.height == h, "%s: %lldx%lld (want %lldx%lld)", name, (long long)mi.width,
          (long long)mi.height, (long long)w, (long long)h);
    CHECK_INT_EQ(mi.duration_ms, dur, "%s: duration", name);

    /* Every truncation of the file is refused or unknown, never a crash or a read past it. */
    size_t len = 0;
    unsigned char *buf = slurp(name, &len);
    int bad = 0;
    for (size_t n = 0; n < len; n++) {
        unsigned char *copy = malloc(n ? n : 1); /* exact size: ASan sees any overread */
        memcpy(copy, buf, n);
        enum media_rc r = media_probe_mem(copy, n, &mi);
        /* A prefix may still hold all of an image's headers (the pixels are not read). */
        if (r == MEDIA_OK && (mi.content_type == NULL || strcmp(mi.content_type, type) != 0))
            bad++;
        if (r != MEDIA_OK && (mi.width != 0 || mi.duration_ms != 0))
            bad++;
        free(copy);
    }
    CHECK(bad == 0, "%s: every prefix is probed safely (%d odd)", name, bad);
    free(buf);
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* An MP4 with 64-bit box sizes everywhere, an mvhd version 1 and a tkhd version 1. */
static size_t make_mp4_64(unsigned char *b)
{
    size_t o = 0;
    memset(b, 0, 400);
    put32(b, 16);
    memcpy(b + 4, "ftypisom", 8);
    put32(b + 12, 0);
    o = 16;
    size_t moov = o;
    put32(b + o, 1);
    memcpy(b + o + 4, "moov", 4);
    o += 16; /* largesize filled below */
    size_t mvhd = o;
    put32(b + o, 1);
    memcpy(b + o + 4, "mvhd", 4);
    put32(b + o + 12, 16 + 112);
    o += 16;
    b[o] = 1; /* version 1 */
    put32(b + o + 20, 600);              /* timescale */
    put32(b + o + 24, 0);                /* duration high */
    put32(b + o + 28, 600 * 3 + 300);    /* 3.5 s */
    o = mvhd + 16 + 112;
    size_t trak = o;
    put32(b + o, 8 + 16 + 104);
    memcpy(b + o + 4, "trak", 4);
    o += 8;
    put32(b + o, 1);
    memcpy(b + o + 4, "tkhd", 4);
    put32(b + o + 12, 16 + 104);
    o += 16;
    b[o] = 1;
    put32(b + o + 88, 1280u << 16);
    put32(b + o + 92, 720u << 16);
    o = trak + 8 + 16 + 104;
    put32(b + moov + 12, (uint32_t)(o - moov));
    return o;
}

static void test_crafted(void)
{
    struct media_info mi;
    unsigned char b[512];

    /* WebP VP8X: canvas 1000 x 2 (stored minus one, 24-bit little-endian). */
    static const unsigned char vp8x[30] = {'R', 'I', 'F', 'F', 22, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X',
                                           10, 0, 0, 0, 0x10, 0, 0, 0, 0xe7, 0x03, 0x00, 0x01, 0x00, 0x00};
    CHECK(media_probe_mem(vp8x, sizeof vp8x, &mi) == MEDIA_OK && mi.width == 1000 && mi.height == 2 &&
              strcmp(mi.content_type, "image/webp") == 0,
          "WebP VP8X canvas size");

    size_t n = make_mp4_64(b);
    CHECK(media_probe_mem(b, n, &mi) == MEDIA_OK && mi.width == 1280 && mi.height == 720 && mi.duration_ms == 3500,
          "MP4 with 64-bit box sizes, mvhd and tkhd version 1: %lldx%lld %lld ms", (long long)mi.width,
          (long long)mi.height, (long long)mi.duration_ms);
    /* moov claims to reach past the file. */
    put32(b + 16 + 12, 100000);
    CHECK(media_probe_mem(b, n, &mi) == MEDIA_BROKEN && mi.width == 0, "a box past its file is broken");
    n = make_mp4_64(b);
    /* a 64-bit size smaller than its own header */
    put32(b + 16 + 12, 8);
    CHECK(media_probe_mem(b, n, &mi) == MEDIA_BROKEN, "a box smaller than its header is broken");

    /* Thousands of empty boxes before moov: the walk budget ends it. */
    static unsigned char many[16 + 8 * 5000];
    put32(many, 16);
    memcpy(many + 4, "ftypisom", 8);
    for (size_t i = 0; i < 5000; i++) {
        put32(many + 16 + 8 * i, 8);
        memcpy(many + 16 + 8 * i + 4, "free", 4);
    }
    CHECK(media_probe_mem(many, sizeof many, &mi) == MEDIA_BROKEN, "5000 empty boxes: the walk stops");

    /* JPEG with only fill bytes: bounded, broken. */
    static unsigned char fill[20000];
    memset(fill, 0xFF, sizeof fill);
    fill[1] = 0xD8;
    CHECK(media_probe_mem(fill, sizeof fill, &mi) == MEDIA_BROKEN, "JPEG of fill bytes is broken");

    /* PNG with a zero width. */
    static const unsigned char png0[24] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                           0, 0, 0, 0, 0, 0, 0, 5};
    CHECK(media_probe_mem(png0, sizeof png0, &mi) == MEDIA_BROKEN, "PNG 0 x 5 is broken");
    /* BMP with a huge width. */
    static const unsigned char bmp[26] = {'B', 'M', 0, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0,
                                          0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0};
    CHECK(media_probe_mem(bmp, sizeof bmp, &mi) == MEDIA_BROKEN, "BMP 2^31-1 wide is broken");

    CHECK(media_probe_mem("hello world, not media", 22, &mi) == MEDIA_UNKNOWN && mi.content_type == NULL,
          "text is unknown");
    CHECK(media_probe_mem("", 0, &mi) == MEDIA_UNKNOWN, "empty is unknown");
    CHECK(media_probe_fd(-1, 100, &mi) == MEDIA_IO, "an unreadable file is an I/O error");
    CHECK(media_is_image("image/png") && !media_is_image("video/mp4") && media_is_video("video/x-msvideo") &&
              !media_is_video("image/gif") && !media_is_image(NULL),
          "type predicates");
}

int main(void)
{
    file_case("img.png", "image/png", 33, 17, 0);
    file_case("img.jpg", "image/jpeg", 33, 17, 0);
    file_case("img.webp", "image/webp", 33, 17, 0);
    file_case("img_lossless.webp", "image/webp", 33, 17, 0);
    file_case("img.bmp", "image/bmp", 33, 17, 0);
    file_case("vid.mp4", "video/mp4", 64, 48, 2000);
    file_case("vid_faststart.mp4", "video/mp4", 64, 48, 2000);
    file_case("vid.mov", "video/quicktime", 64, 48, 2000);
    file_case("vid.avi", "video/x-msvideo", 64, 48, 2000);
    test_crafted();
    return test_done();
}
