/*
 * fuzz_wire: raw bytes into both ToFunction decoders, protobuf-c's and the
 * hot path's own (sdk/src/wire_decode.c); any disagreement on accept/reject
 * or content is a crash (wire_diff.h says what is compared).
 */
#include <stdio.h>
#include <stdlib.h>

#include "wire_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *why = wire_diff(data, size, NULL);
  if (why) {
    fprintf(stderr, "fuzz_wire: %s (%zu bytes)\n", why, size);
    abort();
  }
  return 0;
}
