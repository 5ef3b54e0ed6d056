/*
 * ours.c - the benchmark's two functions served by our SDK and server: the
 * greeter of examples/greeter (greeter.fns/greet, linked from greeter_fn
 * unchanged) and bench.fns/state, which reads the raw state `blob` and
 * writes back a copy whose first 8 bytes (a little-endian counter) are one
 * more: the same read-modify-write the peers in bench/peers/ do with the
 * official SDKs.
 *
 *   bench_ours --listen 127.0.0.1:PORT [--threads N] [--quiet]
 */
#include <stdio.h>
#include <string.h>

#include <statefun/server.h>
#include <statefun/statefun.h>

#include "greet.h"

static const sf_type blob_type = SF_TYPE_RAW("bench.types/blob");
static const sf_value_spec blob_spec = SF_VALUE_SPEC("blob", &blob_type);

static sf_status state(sf_context *ctx, const sf_message *msg, void *ud) {
  (void)msg;
  (void)ud;
  sf_value old = {0};
  sf_status st = sf_state_get(ctx, &blob_spec, &old);
  if (st != SF_OK && st != SF_ERR_NO_VALUE) return st;
  size_t len = st == SF_OK && old.len > 8 ? old.len : 8;
  uint8_t *blob = sf_arena_alloc(sf_context_arena(ctx), len);
  if (blob == NULL) return SF_ERR_NOMEM;
  memset(blob, 0, 8);
  if (st == SF_OK) memcpy(blob, old.data, old.len);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = n << 8 | blob[i];
  n++;
  for (int i = 0; i < 8; i++) blob[i] = (uint8_t)(n >> (8 * i));
  sf_value v = {blob_type.type_name, true, blob, len};
  return sf_state_set(ctx, &blob_spec, v);
}

int main(int argc, char **argv) {
  static const sf_value_spec *const specs[] = {&blob_spec};
  sf_handler *handler = sf_handler_new();
  if (handler == NULL) {
    fprintf(stderr, "bench_ours: out of memory\n");
    return 1;
  }
  sf_status st = greeter_register(handler);
  if (st == SF_OK)
    st = sf_handler_register(handler, "bench.fns/state", state, NULL, specs, 1);
  if (st != SF_OK) {
    fprintf(stderr, "bench_ours: cannot register: %s\n", sf_strerror(st));
    sf_handler_free(handler);
    return 1;
  }
  int rc = sf_server_main(handler, argc, argv); /* until SIGTERM/SIGINT */
  sf_handler_free(handler);
  return rc;
}
