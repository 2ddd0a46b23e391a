/* fuzz.h - the entry point every fuzz target defines. Built two ways:
 * with clang -fsanitize=fuzzer (scripts/fuzz) to search for crashes, and
 * with replay.c as an ordinary ctest that reruns the kept corpus. */
#ifndef KG_FUZZ_H
#define KG_FUZZ_H
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#endif
