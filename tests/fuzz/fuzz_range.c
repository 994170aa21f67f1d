/*
 * fuzz_range.c - fuzz target for http_range_parse (src/http/range.c), which reads the Range
 * header of GET /files/... .
 *
 * The first 8 bytes give the body size (little-endian, folded into 0..2^40), the rest is the
 * header value (a NUL-terminated copy). Invariants (abort() when broken):
 *  - 1 means a range inside the body: 0 <= start, 1 <= len, start + len <= size;
 *  - 0 (ignored) and -1 (unsatisfiable) leave start 0 and len size;
 *  - -1 only for a value that starts with "bytes=";
 *  - a value without "bytes=" at its start is always ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/http/range.c"
#include "fuzz.h"

static unsigned long n_range, n_ignored, n_unsat;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t raw = 0;
    size_t k = size < 8 ? size : 8;
    for (size_t i = 0; i < k; i++)
        raw |= (uint64_t)data[i] << (8 * i);
    int64_t body = (int64_t)(raw % ((uint64_t)1 << 40));
    char *v = malloc(size - k + 1);
    memcpy(v, data + k, size - k);
    v[size - k] = '\0';
    int64_t s, l;
    int rc = http_range_parse(v, body, &s, &l);
    int bytes = strncmp(v, "bytes=", 6) == 0;
    if (rc == 1) {
        if (s < 0 || l < 1 || s > body || l > body - s || !bytes)
            abort();
        n_range++;
    } else if (rc == 0 || rc == -1) {
        if (s != 0 || l != body || (rc == -1 && !bytes))
            abort();
        rc == 0 ? n_ignored++ : n_unsat++;
    } else {
        abort();
    }
    free(v);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *const vals[] = {"bytes=0-9", "bytes=-5", "bytes=10-", "bytes=0-1,4-5", "bytes=99999-", "items=1-2",
                                       NULL};
    for (size_t i = 0; vals[i]; i++) {
        uint8_t buf[64] = {100, 0, 0, 0, 0, 0, 0, 0};
        size_t n = strlen(vals[i]);
        memcpy(buf + 8, vals[i], n);
        add(buf, 8 + n);
    }
}

void fuzz_report(void)
{
    printf("fuzz_range: %lu ranges, %lu ignored, %lu unsatisfiable\n", n_range, n_ignored, n_unsat);
}
