/*
 * driver.c - a stand-alone main() for the fuzz targets, so that CI exercises them (under
 * the sanitizers) without libFuzzer. Deterministic: the same seed gives the same inputs,
 * so a failure reproduces with the seed and iteration count the run printed.
 *
 *   fuzz_jwt [ITERATIONS [SEED]]     (defaults 100000 and a fixed seed)
 *   fuzz_jwt --replay FILE...        (run saved inputs, e.g. crashes found by libFuzzer)
 *   fuzz_jwt --write-seeds DIR       (write the seeds as files: the libFuzzer seed corpus,
 *                                     tests/fuzz/corpus/<target>/)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz.h"

/* Inputs up to twice the JWT limit so that size checks are crossed too. */
#define MAX_INPUT 8192
#define MAX_SEEDS 128

static struct {
    uint8_t *data;
    size_t size;
} seeds[MAX_SEEDS];
static size_t n_seeds;

static uint64_t rng_state;

/* splitmix64: small, fast and good enough to pick mutations. */
static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t below(size_t n)
{
    return n ? (size_t)(rng() % n) : 0;
}

static void add_seed(const uint8_t *data, size_t size)
{
    if (n_seeds == MAX_SEEDS || size > MAX_INPUT)
        return;
    seeds[n_seeds].data = malloc(size ? size : 1);
    if (seeds[n_seeds].data == NULL)
        abort();
    memcpy(seeds[n_seeds].data, data, size);
    seeds[n_seeds].size = size;
    n_seeds++;
}

/* Characters that matter to the parsers under test. */
static const char interesting[] = ".=-_+/{}[]\":,\\ \r\n\t0123456789eE\0AZaz\x7f\xc3\xff%&#'$@;fx";

/* Applies one random edit to buf (length *n, capacity MAX_INPUT). */
static void mutate_once(uint8_t *buf, size_t *n)
{
    size_t pos = below(*n + 1), len;
    switch (below(9)) {
    case 0: /* flip a bit */
        if (*n)
            buf[below(*n)] ^= (uint8_t)(1u << below(8));
        break;
    case 1: /* random byte */
        if (*n)
            buf[below(*n)] = (uint8_t)rng();
        break;
    case 2: /* interesting byte */
        if (*n)
            buf[below(*n)] = (uint8_t)interesting[below(sizeof interesting - 1)];
        break;
    case 3: /* insert a byte */
        if (*n < MAX_INPUT) {
            memmove(buf + pos + 1, buf + pos, *n - pos);
            buf[pos] = below(2) ? (uint8_t)interesting[below(sizeof interesting - 1)] : (uint8_t)rng();
            (*n)++;
        }
        break;
    case 4: /* delete a range */
        if (pos < *n) {
            len = 1 + below(*n - pos < 16 ? *n - pos : 16);
            memmove(buf + pos, buf + pos + len, *n - pos - len);
            *n -= len;
        }
        break;
    case 5: /* duplicate a range */
        if (pos < *n) {
            len = 1 + below(*n - pos);
            if (*n + len <= MAX_INPUT) {
                memmove(buf + pos + len, buf + pos, *n - pos);
                (*n) += len;
            }
        }
        break;
    case 6: /* splice: our head, another seed's tail */
        if (n_seeds) {
            size_t s = below(n_seeds), from = below(seeds[s].size + 1);
            len = seeds[s].size - from;
            if (pos + len <= MAX_INPUT) {
                memcpy(buf + pos, seeds[s].data + from, len);
                *n = pos + len;
            }
        }
        break;
    case 7: /* truncate */
        *n = pos;
        break;
    default: /* swap two bytes */
        if (*n > 1) {
            size_t a = below(*n), b = below(*n);
            uint8_t t = buf[a];
            buf[a] = buf[b];
            buf[b] = t;
        }
        break;
    }
}

/* Fills buf with the next input and returns its length. */
static size_t next_input(uint8_t *buf)
{
    static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    size_t n = 0, i, k = below(100);

    if (k < 75 && n_seeds) {
        size_t s = below(n_seeds), edits = 1 + below(4);
        memcpy(buf, seeds[s].data, seeds[s].size);
        n = seeds[s].size;
        for (i = 0; i < edits; i++)
            mutate_once(buf, &n);
    } else if (k < 90) {
        n = below(400);
        for (i = 0; i < n; i++)
            buf[i] = (uint8_t)b64chars[below(sizeof b64chars - 1)];
    } else {
        n = below(k == 99 ? MAX_INPUT + 1 : 300);
        for (i = 0; i < n; i++)
            buf[i] = (uint8_t)rng();
    }
    return n;
}

static int replay(int argc, char **argv)
{
    static uint8_t buf[1 << 20];
    int i;
    for (i = 2; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        size_t n;
        if (f == NULL) {
            perror(argv[i]);
            return 1;
        }
        n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        printf("replaying %s (%zu bytes)\n", argv[i], n);
        LLVMFuzzerTestOneInput(buf, n);
    }
    return 0;
}

static const char *seeds_dir;
static size_t seeds_written;
static int seeds_failed;

/* fuzz_seeds() callback for --write-seeds: one file per seed, named by its position. */
static void write_seed(const uint8_t *data, size_t size)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/seed-%03zu", seeds_dir, seeds_written++);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size) {
        perror(path);
        seeds_failed = 1;
    }
    if (f != NULL && fclose(f) != 0) {
        perror(path);
        seeds_failed = 1;
    }
}

int main(int argc, char **argv)
{
    static uint8_t buf[MAX_INPUT + 1];
    unsigned long long iterations = 100000, seed = 0x746f6c6c67617465ULL, it;
    clock_t t0 = clock();
    size_t i;

    if (argc > 1 && strcmp(argv[1], "--replay") == 0)
        return replay(argc, argv);
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) {
        seeds_dir = argv[2];
        fuzz_seeds(write_seed);
        printf("%zu seeds written to %s\n", seeds_written, seeds_dir);
        return seeds_failed;
    }
    if (argc > 1)
        iterations = strtoull(argv[1], NULL, 10);
    if (argc > 2)
        seed = strtoull(argv[2], NULL, 0);
    rng_state = seed;

    fuzz_seeds(add_seed);
    printf("%s: %llu iterations, seed %#llx, %zu seeds\n", argv[0], iterations, seed, n_seeds);
    fflush(stdout);
    for (i = 0; i < n_seeds; i++)
        LLVMFuzzerTestOneInput(seeds[i].data, seeds[i].size);
    for (it = 0; it < iterations; it++) {
        size_t n = next_input(buf);
        LLVMFuzzerTestOneInput(buf, n);
    }
    fuzz_report();
    printf("done in %.2f s\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
    for (i = 0; i < n_seeds; i++)
        free(seeds[i].data);
    return 0;
}
