/*
 * fuzz.h - the interface between a fuzz target (fuzz_*.c) and driver.c.
 *
 * Each target is a libFuzzer target (LLVMFuzzerTestOneInput). Built with clang's
 * -fsanitize=fuzzer it runs under libFuzzer and driver.c is left out; built normally (the
 * meson tests, usually under ASan+UBSan) driver.c supplies main() and feeds the target a
 * fixed, reproducible stream of random and mutated inputs seeded from fuzz_seeds().
 * A target reports a broken invariant by calling abort().
 */
#ifndef TG_FUZZ_H
#define TG_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer entry point: runs one input; always returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Calls add() once per seed input (valid examples the driver mutates). */
void fuzz_seeds(void (*add)(const uint8_t *data, size_t size));
/* Prints a one-line summary of what the inputs reached (for the test log). */
void fuzz_report(void);

#endif
