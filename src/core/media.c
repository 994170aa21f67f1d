/*
 * media.c - media type sniffing and header probing (see media.h).
 *
 * Every read goes through media_read(), which reads exactly n bytes at an offset inside the
 * file or fails; offsets are int64_t and checked against the size before any arithmetic
 * that could overflow.
 */
#include "core/media.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

struct media_src {
    int fd;
    const unsigned char *buf;
    int64_t size;
    int steps; /* walk budget left */
    int io_error;
};

/* Reads exactly n bytes at off into dst. 0, or -1 when out of the file (or a read failed). */
static int media_read(struct media_src *s, int64_t off, void *dst, size_t n)
{
    if (off < 0 || off > s->size || (int64_t)n > s->size - off)
        return -1;
    if (s->buf != NULL) {
        memcpy(dst, s->buf + off, n);
        return 0;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(s->fd, (char *)dst + got, n - got, (off_t)(off + (int64_t)got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            s->io_error = 1;
            return -1;
        }
        got += (size_t)k;
    }
    return 0;
}

/* One more step of a walk; 0 while the budget lasts. */
static int media_step(struct media_src *s)
{
    return --s->steps < 0 ? -1 : 0;
}

static uint32_t be16(const unsigned char *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t be64(const unsigned char *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }
static uint32_t le16(const unsigned char *p) { return (uint32_t)p[1] << 8 | p[0]; }
static uint32_t le24(const unsigned char *p) { return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]; }
static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static int media_dims_ok(int64_t w, int64_t h)
{
    return w > 0 && h > 0 && w <= MEDIA_MAX_DIMENSION && h <= MEDIA_MAX_DIMENSION;
}

/* ---- images ---- */

static enum media_rc media_png(struct media_src *s, struct media_info *out)
{
    unsigned char h[16];
    /* The IHDR chunk comes first: length 13, "IHDR", width, height (PNG spec 11.2.2). */
    if (media_read(s, 8, h, 16) != 0 || be32(h) != 13 || memcmp(h + 4, "IHDR", 4) != 0)
        return MEDIA_BROKEN;
    out->width = be32(h + 8);
    out->height = be32(h + 12);
    return media_dims_ok(out->width, out->height) ? MEDIA_OK : MEDIA_BROKEN;
}

static enum media_rc media_jpeg(struct media_src *s, struct media_info *out)
{
    int64_t off = 2;
    unsigned char m[2], seg[7];
    for (;;) {
        if (media_step(s) != 0 || media_read(s, off, m, 1) != 0)
            return MEDIA_BROKEN;
        if (m[0] != 0xFF)
            return MEDIA_BROKEN;
        /* Any number of 0xFF fill bytes may precede a marker (ITU T.81 B.1.1.2). */
        do {
            off++;
            if (media_step(s) != 0 || media_read(s, off, m + 1, 1) != 0)
                return MEDIA_BROKEN;
        } while (m[1] == 0xFF);
        off++;
        unsigned mk = m[1];
        if (mk == 0xD8 || mk == 0x01 || (mk >= 0xD0 && mk <= 0xD7))
            continue; /* markers without a length */
        if (mk == 0xD9 || mk == 0xDA || mk == 0x00)
            return MEDIA_BROKEN; /* end of image or scan data before any frame header */
        if (media_read(s, off, seg, 2) != 0)
            return MEDIA_BROKEN;
        uint32_t len = be16(seg);
        if (len < 2)
            return MEDIA_BROKEN;
        /* SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): length, precision, height, width. */
        if (mk >= 0xC0 && mk <= 0xCF && mk != 0xC4 && mk != 0xC8 && mk != 0xCC) {
            if (len < 8 || media_read(s, off, seg, 7) != 0)
                return MEDIA_BROKEN;
            out->height = be16(seg + 3);
            out->width = be16(seg + 5);
            /* A height of 0 means "defined later by DNL": real files do not use it. */
            return media_dims_ok(out->width, out->height) ? MEDIA_OK : MEDIA_BROKEN;
        }
        off += len;
    }
}

static enum media_rc media_webp(struct media_src *s, struct media_info *out)
{
    unsigned char h[30];
    if (media_read(s, 12, h, 8) != 0)
        return MEDIA_BROKEN;
    if (memcmp(h, "VP8 ", 4) == 0) {
        /* Lossy: a 3-byte frame tag, the start code 9d 01 2a, then 14-bit width and height
         * (RFC 6386 section 9.1). */
        if (media_read(s, 20, h, 10) != 0 || h[3] != 0x9d || h[4] != 0x01 || h[5] != 0x2a)
            return MEDIA_BROKEN;
        out->width = le16(h + 6) & 0x3fff;
        out->height = le16(h + 8) & 0x3fff;
    } else if (memcmp(h, "VP8L", 4) == 0) {
        /* Lossless: signature 0x2f, then 14 bits width - 1 and 14 bits height - 1. */
        if (media_read(s, 20, h, 5) != 0 || h[0] != 0x2f)
            return MEDIA_BROKEN;
        uint32_t b = le32(h + 1);
        out->width = (int64_t)(b & 0x3fff) + 1;
        out->height = (int64_t)((b >> 14) & 0x3fff) + 1;
    } else if (memcmp(h, "VP8X", 4) == 0) {
        /* Extended: flags, 3 reserved bytes, 24-bit canvas width - 1 and height - 1. */
        if (media_read(s, 20, h, 10) != 0)
            return MEDIA_BROKEN;
        out->width = (int64_t)le24(h + 4) + 1;
        out->height = (int64_t)le24(h + 7) + 1;
    } else {
        return MEDIA_BROKEN;
    }
    return media_dims_ok(out->width, out->height) ? MEDIA_OK : MEDIA_BROKEN;
}

static enum media_rc media_bmp(struct media_src *s, struct media_info *out)
{
    unsigned char h[12];
    if (media_read(s, 14, h, 12) != 0)
        return MEDIA_BROKEN;
    uint32_t dib = le32(h);
    if (dib == 12) { /* BITMAPCOREHEADER: 16-bit unsigned sizes */
        out->width = le16(h + 4);
        out->height = le16(h + 6);
    } else if (dib >= 40 && dib <= 124) { /* BITMAPINFOHEADER and its successors */
        int32_t w = (int32_t)le32(h + 4), hh = (int32_t)le32(h + 8);
        out->width = w;
        /* A negative height is a top-down bitmap. */
        out->height = hh < 0 ? -(int64_t)hh : hh;
    } else {
        return MEDIA_BROKEN;
    }
    return media_dims_ok(out->width, out->height) ? MEDIA_OK : MEDIA_BROKEN;
}

/* ---- ISO base media (MP4) and QuickTime ---- */

/* The box at off inside [.., end): its type, header length and total size. 0 or -1. */
static int media_box(struct media_src *s, int64_t off, int64_t end, char type[4], int64_t *hdr, int64_t *size)
{
    unsigned char h[16];
    if (media_step(s) != 0 || end - off < 8 || media_read(s, off, h, 8) != 0)
        return -1;
    memcpy(type, h + 4, 4);
    uint64_t sz = be32(h);
    *hdr = 8;
    if (sz == 1) { /* a 64-bit size follows the type */
        if (end - off < 16 || media_read(s, off + 8, h + 8, 8) != 0)
            return -1;
        sz = be64(h + 8);
        *hdr = 16;
    } else if (sz == 0) { /* to the end of the file (only a top-level box may say so) */
        sz = (uint64_t)(end - off);
    }
    if (sz < (uint64_t)*hdr || sz > (uint64_t)(end - off))
        return -1;
    *size = (int64_t)sz;
    return 0;
}

/* Finds the first box of type want inside [off, end): *at and *len its content. 0, 1 none, -1 broken. */
static int media_find(struct media_src *s, int64_t off, int64_t end, const char *want, int64_t *at, int64_t *len)
{
    while (off < end) {
        char type[4];
        int64_t hdr, size;
        if (media_box(s, off, end, type, &hdr, &size) != 0)
            return -1;
        if (memcmp(type, want, 4) == 0) {
            *at = off + hdr;
            *len = size - hdr;
            return 0;
        }
        off += size;
    }
    return 1;
}

static enum media_rc media_mvhd(struct media_src *s, int64_t at, int64_t len, struct media_info *out)
{
    unsigned char b[32];
    uint64_t timescale, duration;
    if (len < 1 || media_read(s, at, b, 1) != 0)
        return MEDIA_BROKEN;
    if (b[0] == 1) { /* version 1: 64-bit times */
        if (len < 32 || media_read(s, at, b, 32) != 0)
            return MEDIA_BROKEN;
        timescale = be32(b + 20);
        duration = be64(b + 24);
    } else {
        if (len < 20 || media_read(s, at, b, 20) != 0)
            return MEDIA_BROKEN;
        timescale = be32(b + 12);
        duration = be32(b + 16);
    }
    if (timescale == 0)
        return MEDIA_BROKEN;
    /* All ones is "unknown"; past ~292 million years is absurd either way. */
    if (duration == UINT64_MAX || (b[0] != 1 && duration == UINT32_MAX) || duration / timescale > 1000000000ULL)
        return MEDIA_OK;
    out->duration_ms = (int64_t)(duration / timescale * 1000 + duration % timescale * 1000 / timescale);
    return MEDIA_OK;
}

/* Width and height of the first track whose tkhd has a size (the video track). */
static void media_tracks(struct media_src *s, int64_t off, int64_t end, struct media_info *out)
{
    while (off < end && out->width == 0) {
        char type[4];
        int64_t hdr, size, at, len;
        if (media_box(s, off, end, type, &hdr, &size) != 0)
            return;
        if (memcmp(type, "trak", 4) == 0 && media_find(s, off + hdr, off + size, "tkhd", &at, &len) == 0) {
            unsigned char b[92];
            if (len >= 1 && media_read(s, at, b, 1) == 0) {
                /* version 0: width/height at 76 and 80 (16.16 fixed point); version 1: 88, 92 */
                int64_t wo = b[0] == 1 ? 88 : 76;
                if (len >= wo + 8 && media_read(s, at + wo, b, 8) == 0) {
                    int64_t w = be32(b) >> 16, h = be32(b + 4) >> 16;
                    if (media_dims_ok(w, h)) {
                        out->width = w;
                        out->height = h;
                    }
                }
            }
        }
        off += size;
    }
}

static enum media_rc media_isobmff(struct media_src *s, struct media_info *out)
{
    int64_t at, len, mat, mlen;
    /* moov may come before or after mdat (a "fast start" file has it first). */
    int rc = media_find(s, 0, s->size, "moov", &at, &len);
    if (rc != 0)
        return MEDIA_BROKEN;
    if (media_find(s, at, at + len, "mvhd", &mat, &mlen) != 0)
        return MEDIA_BROKEN;
    enum media_rc r = media_mvhd(s, mat, mlen, out);
    if (r != MEDIA_OK)
        return r;
    media_tracks(s, at, at + len, out);
    return out->width > 0 ? MEDIA_OK : MEDIA_BROKEN;
}

/* ---- AVI ---- */

static enum media_rc media_avi(struct media_src *s, struct media_info *out)
{
    unsigned char h[40];
    int64_t off = 12, end = s->size;
    /* RIFF's own size bounds the walk when it is smaller than the file. */
    if (media_read(s, 4, h, 4) == 0 && (int64_t)le32(h) + 8 < end)
        end = (int64_t)le32(h) + 8;
    while (off + 12 <= end) {
        if (media_step(s) != 0 || media_read(s, off, h, 12) != 0)
            return MEDIA_BROKEN;
        int64_t size = le32(h + 4);
        if (size > end - off - 8)
            return MEDIA_BROKEN;
        if (memcmp(h, "LIST", 4) == 0 && memcmp(h + 8, "hdrl", 4) == 0) {
            /* avih is the first chunk of hdrl: microseconds per frame, ..., total frames at
             * 16, width at 32, height at 36 (AVIMAINHEADER). */
            if (size < 4 + 8 + 40 || media_read(s, off + 12, h, 8) != 0 || memcmp(h, "avih", 4) != 0 ||
                le32(h + 4) < 40 || media_read(s, off + 20, h, 40) != 0)
                return MEDIA_BROKEN;
            uint64_t us_per_frame = le32(h), frames = le32(h + 16);
            out->width = le32(h + 32);
            out->height = le32(h + 36);
            out->duration_ms = (int64_t)(us_per_frame * frames / 1000);
            return media_dims_ok(out->width, out->height) ? MEDIA_OK : MEDIA_BROKEN;
        }
        off += 8 + size + (size & 1); /* chunks are padded to an even size */
    }
    return MEDIA_BROKEN;
}

/* ---- sniffing ---- */

static enum media_rc media_probe(struct media_src *s, struct media_info *out)
{
    unsigned char m[16] = {0};
    memset(out, 0, sizeof *out);
    s->steps = MEDIA_MAX_STEPS;
    size_t n = s->size < 16 ? (size_t)(s->size < 0 ? 0 : s->size) : 16;
    if (media_read(s, 0, m, n) != 0)
        return s->io_error ? MEDIA_IO : MEDIA_UNKNOWN;
    enum media_rc rc;
    if (n >= 8 && memcmp(m, "\x89PNG\r\n\x1a\n", 8) == 0) {
        out->content_type = "image/png";
        rc = media_png(s, out);
    } else if (n >= 3 && m[0] == 0xFF && m[1] == 0xD8 && m[2] == 0xFF) {
        out->content_type = "image/jpeg";
        rc = media_jpeg(s, out);
    } else if (n >= 12 && memcmp(m, "RIFF", 4) == 0 && memcmp(m + 8, "WEBP", 4) == 0) {
        out->content_type = "image/webp";
        rc = media_webp(s, out);
    } else if (n >= 12 && memcmp(m, "RIFF", 4) == 0 && memcmp(m + 8, "AVI ", 4) == 0) {
        out->content_type = "video/x-msvideo";
        rc = media_avi(s, out);
    } else if (n >= 14 && m[0] == 'B' && m[1] == 'M') {
        out->content_type = "image/bmp";
        rc = media_bmp(s, out);
    } else if (n >= 12 && memcmp(m + 4, "ftyp", 4) == 0) {
        /* QuickTime files carry the major brand "qt  "; anything else is MP4 (isom, mp42...). */
        out->content_type = memcmp(m + 8, "qt  ", 4) == 0 ? "video/quicktime" : "video/mp4";
        rc = media_isobmff(s, out);
    } else if (n >= 8 && (memcmp(m + 4, "moov", 4) == 0 || memcmp(m + 4, "mdat", 4) == 0 ||
                          memcmp(m + 4, "wide", 4) == 0 || memcmp(m + 4, "free", 4) == 0)) {
        /* Old QuickTime files start without ftyp. */
        out->content_type = "video/quicktime";
        rc = media_isobmff(s, out);
    } else {
        return s->io_error ? MEDIA_IO : MEDIA_UNKNOWN;
    }
    if (s->io_error)
        return MEDIA_IO;
    if (rc != MEDIA_OK) {
        out->width = out->height = out->duration_ms = 0;
    }
    return rc;
}

enum media_rc media_probe_fd(int fd, int64_t size, struct media_info *out)
{
    struct media_src s = {.fd = fd, .size = size};
    return media_probe(&s, out);
}

enum media_rc media_probe_mem(const void *buf, size_t len, struct media_info *out)
{
    struct media_src s = {.fd = -1, .buf = buf, .size = (int64_t)len};
    return media_probe(&s, out);
}

int media_is_image(const char *ct)
{
    return ct != NULL && (strcmp(ct, "image/png") == 0 || strcmp(ct, "image/jpeg") == 0 ||
                          strcmp(ct, "image/webp") == 0 || strcmp(ct, "image/bmp") == 0);
}

int media_is_video(const char *ct)
{
    return ct != NULL && (strcmp(ct, "video/mp4") == 0 || strcmp(ct, "video/quicktime") == 0 ||
                          strcmp(ct, "video/x-msvideo") == 0);
}
