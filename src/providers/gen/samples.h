/*
 * samples.h - the sandbox's sample outputs, compiled in from samples/ by tools/embed.py
 * (meson.build). Read them through gen_sandbox_sample() (gen.h).
 */
#ifndef TG_PROVIDERS_GEN_SAMPLES_H
#define TG_PROVIDERS_GEN_SAMPLES_H

#include <stddef.h>

extern const unsigned char gen_sample_mp4[]; /* samples/sample.mp4 */
extern const size_t gen_sample_mp4_len;
extern const unsigned char gen_sample_png[]; /* samples/sample.png */
extern const size_t gen_sample_png_len;

/* Length of samples/sample.mp4 in milliseconds (ffprobe), which the sandbox reports as the
 * billed output length of its videos. */
#define GEN_SAMPLE_MP4_MS 2000

#endif
