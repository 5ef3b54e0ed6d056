/*
 * fuzz_handler: raw bytes as a ToFunction request into sf_handler_handle.
 * Exercises the request decoder and, for inputs that decode, the whole
 * handler (state, batches, the fuzz functions in fuzz_common.c). Checks:
 * no crash/leak/UB, a valid FromFunction on success, a reason on failure,
 * and the same reply when the same request is handled twice.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const sf_handler *h = fz_handler();
  sf_arena *arena = fz_arena();
  uint8_t *reply = NULL, *first = NULL;
  size_t reply_len = 0, first_len = 0;
  sf_status first_st = SF_OK;
  for (int round = 0; round < 2; round++) {
    sf_handle_info info;
    memset(&info, 0x5A, sizeof info); /* must be fully filled in */
    sf_arena_reset(arena);
    sf_status st =
        sf_handler_handle(h, data, size, arena, &reply, &reply_len, &info);
    FZ_CHECK(memchr(info.error, 0, sizeof info.error) != NULL);
    FZ_CHECK(info.function_index >= -1 &&
             info.function_index < (int)sf_handler_function_count(h));
    if (st == SF_OK) {
      FZ_CHECK(info.error[0] == 0);
      FZ_CHECK(fz_valid_from_function(reply, reply_len));
      if (info.incomplete) FZ_CHECK(info.invocations == 0);
    } else {
      FZ_CHECK(st < 0 && st >= SF_ERR_IO);
      FZ_CHECK(info.error[0] != 0);
      FZ_CHECK(sf_strerror(st) != NULL);
    }
    if (round == 0) {
      first_st = st;
      if (st == SF_OK) {
        first_len = reply_len;
        first = malloc(first_len ? first_len : 1);
        FZ_CHECK(first != NULL);
        if (first_len) memcpy(first, reply, first_len);
      }
    } else {
      FZ_CHECK(st == first_st);
      if (st == SF_OK)
        FZ_CHECK(reply_len == first_len &&
                 (first_len == 0 || memcmp(reply, first, first_len) == 0));
    }
  }
  free(first);
  return 0;
}
