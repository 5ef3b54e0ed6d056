/*
 * wire.h - the request-reply hot path's own protobuf codec: a ToFunction
 * decoded in place and a FromFunction written straight into one buffer.
 *
 * The decoder replaces protobuf-c's generic, descriptor-driven unpacker on
 * the path every request takes. It copies the request once into the arena
 * and decodes it there: strings and values point into that copy (strings
 * are NUL-terminated in place, see wire_decode.c), repeated fields are
 * counted first and get one array each, and nothing else is allocated. It
 * accepts and rejects exactly what protobuf-c 1.4 does, field by field
 * (tests/unit/test_wire.c checks that on random and mutated inputs), with
 * one deliberate difference: a string that is not valid UTF-8 is rejected,
 * as the official SDKs' protobuf runtimes do.
 *
 * The encoder writes the FromFunction that protobuf-c would pack from the
 * same wire structures, byte for byte, without its descriptor walks: sizes
 * of nested messages are computed once, then the reply is written into one
 * arena buffer of exactly that size. protobuf-c itself stays for users'
 * own message types (SF_KIND_PROTO) and the entity layer.
 */
#ifndef SF_WIRE_H
#define SF_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* A decoded string: NUL-terminated in the request copy. p is NULL when
 * the field was not on the wire (reads as ""). */
typedef struct sf_wstr {
  const char *p;
  size_t len;
} sf_wstr;

static inline const char *sf_wstr_c(sf_wstr s) { return s.p ? s.p : ""; }

typedef struct sf_waddress {
  sf_wstr ns, type, id;
} sf_waddress;

typedef struct sf_wvalue {
  sf_wstr type_name;
  bool has_value;
  const uint8_t *data; /* NULL when the value field was empty or absent */
  size_t len;
} sf_wvalue;

typedef struct sf_wstate {
  sf_wstr name;
  bool has_value_msg; /* PersistedValue.state_value was on the wire */
  sf_wvalue value;
} sf_wstate;

typedef struct sf_winvocation {
  bool has_caller;
  sf_waddress caller;
  bool has_argument;
  sf_wvalue argument;
} sf_winvocation;

typedef struct sf_wbatch {
  bool has_target;
  sf_waddress target;
  sf_wstate *state;
  size_t n_state;
  sf_winvocation *invocations;
  size_t n_invocations;
} sf_wbatch;

typedef struct sf_wto_function {
  bool has_batch; /* the oneof `request` is `invocation` */
  sf_wbatch batch;
  bool bad_utf8; /* a string was not UTF-8 (decoded with check_utf8 off) */
} sf_wto_function;

/* Decodes a ToFunction from data[0..len) into `out`, everything in the
 * arena (one copy of the request plus the repeated-field arrays).
 * check_utf8 false accepts strings that are not UTF-8, as protobuf-c does,
 * and only says so in out->bad_utf8 (for the differential test). SF_ERR_DECODE when malformed,
 * SF_ERR_NOMEM when the arena refuses. */
sf_status sf_wire_decode_to_function(sf_arena *arena, const uint8_t *data,
                                     size_t len, bool check_utf8,
                                     sf_wto_function *out);
/* The same with caps on the batch's invocations and states (SIZE_MAX: none),
 * checked when they are counted, before their arrays are allocated: over
 * either, SF_ERR_TOO_LARGE with the batch's counts in out->batch.n_state and
 * out->batch.n_invocations (and no arrays). */
sf_status sf_wire_decode_to_function_capped(sf_arena *arena,
                                            const uint8_t *data, size_t len,
                                            bool check_utf8,
                                            size_t max_invocations,
                                            size_t max_states,
                                            sf_wto_function *out);

/* Packs a FromFunction into one arena buffer: what protobuf-c's
 * protobuf_c_message_pack writes for the same message. */
sf_status sf_wire_encode_from_function(sf_arena *arena,
                                       const pb_from_function *msg,
                                       uint8_t **out, size_t *out_len);

#endif /* SF_WIRE_H */
