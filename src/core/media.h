/*
 * media.h - what a media file is, from its own bytes: the type by its magic bytes and the
 * dimensions (images, videos) and duration (videos) from its headers. For uploads, whose
 * declared Content-Type is only a claim, and for sizing generation tasks by video length.
 *
 * Formats: PNG (IHDR), JPEG (the first SOFn marker), WebP (VP8, VP8L, VP8X), BMP (the DIB
 * header); MP4 and QuickTime MOV (boxes: moov/mvhd for duration and timescale, the first
 * trak/tkhd with a size for width and height; 32- and 64-bit box sizes; moov anywhere,
 * commonly after mdat at the end), AVI (RIFF hdrl/avih).
 *
 * Reading is bounded: only headers are read, in small pread()s at offsets computed from the
 * file (never past its size), with a cap on boxes and markers walked, so a hostile file
 * costs at most a few hundred small reads. Sizes inside the file are never trusted: a box
 * or chunk that claims to reach past its parent or the file makes the file BROKEN.
 */
#ifndef TG_CORE_MEDIA_H
#define TG_CORE_MEDIA_H

#include <stddef.h>
#include <stdint.h>

enum media_rc {
    MEDIA_OK = 0,     /* recognised, and its headers gave what this format carries */
    MEDIA_UNKNOWN,    /* not one of the formats above */
    MEDIA_BROKEN,     /* the magic bytes of a format, but headers missing, truncated or absurd */
    MEDIA_IO,         /* the file could not be read */
};

struct media_info {
    const char *content_type; /* static: "image/png", "image/jpeg", "image/webp", "image/bmp",
                                 "video/mp4", "video/quicktime", "video/x-msvideo"; NULL when unknown */
    int64_t width, height;    /* pixels; 0 unknown */
    int64_t duration_ms;      /* videos; 0 unknown (or an image) */
};

/* Caps on the walk (a real file needs a few dozen). */
#define MEDIA_MAX_STEPS 4096
/* Largest width or height believed (no real format here exceeds 2^24 - WebP VP8X's limit). */
#define MEDIA_MAX_DIMENSION 16777216

/* Probes the open file fd of `size` bytes with pread (the offset of fd is not used).
 * *out is set on every path (zeros and NULL type unless MEDIA_OK or BROKEN with a type). */
enum media_rc media_probe_fd(int fd, int64_t size, struct media_info *out);
/* The same on len bytes in memory (tests, the fuzz target, sample media). */
enum media_rc media_probe_mem(const void *buf, size_t len, struct media_info *out);
/* 1 if content_type is an image type media_probe recognises ("image/..."), else 0. */
int media_is_image(const char *content_type);
/* 1 if content_type is a video type media_probe recognises, else 0. */
int media_is_video(const char *content_type);

#endif
