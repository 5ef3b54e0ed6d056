/*
 * Shared pieces of the fuzz harnesses: one handler with functions that cover
 * every built-in type, a JSON, a raw and a protobuf type, plus a function
 * whose behaviour (state writes, sends, delays, egress, failures) is driven
 * by the bytes of the message it receives; a schema-aware validator for
 * FromFunction replies; a tiny protobuf writer for building ToFunction
 * requests from fuzz bytes.
 */
#ifndef SF_FUZZ_COMMON_H
#define SF_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <statefun/statefun.h>

#include "sfb/buf.h"

/* Aborts (a crash libFuzzer reports) when an SDK contract is violated. */
#define FZ_CHECK(cond)                                                   \
  do {                                                                   \
    if (!(cond)) fz_check_failed(#cond, __FILE__, __LINE__);             \
  } while (0)
void fz_check_failed(const char *what, const char *file, int line)
    __attribute__((noreturn));

/* json_equal that tells object keys apart by their whole length: jansson
 * 2.14's json_equal looks keys up as C strings, so "a\0b" finds "a" (and
 * a key holding a NUL, which a protobuf string may, never matches). */
bool fz_json_equal(const json_t *a, const json_t *b);

/* Typenames of the functions registered by fz_handler(). */
#define FZ_FN_TYPES "fuzz.fns/types"     /* every spec, reads+writes all */
#define FZ_FN_ACTIONS "fuzz.fns/actions" /* every spec, message = program */
#define FZ_FN_NOSTATE "fuzz.fns/nostate" /* no specs, replies to caller */
#define FZ_FN_UNKNOWN "fuzz.fns/unknown" /* never registered */

#define FZ_TYPENAME_JSON "fuzz.types/json"
#define FZ_TYPENAME_RAW "fuzz.types/raw"
#define FZ_TYPENAME_PROTO "type.googleapis.com/statefun.fuzz.FuzzRecord"

extern const sf_type fz_type_json;
extern const sf_type fz_type_raw;
extern const sf_type fz_type_proto;

/* The value specs every stateful fuzz function declares, in order. */
#define FZ_N_SPECS 9
extern const sf_value_spec *const fz_specs[FZ_N_SPECS];

/* The handler (built once, never freed) and a 64 MiB arena. */
const sf_handler *fz_handler(void);
sf_arena *fz_arena(void);

/* True when `buf` is a well-formed FromFunction (field numbers and wire
 * types as in request_reply.proto, all lengths in bounds). */
bool fz_valid_from_function(const uint8_t *buf, size_t len);

/* Byte reader over the fuzz input: reads past the end give zeros. */
typedef struct fz_reader {
  const uint8_t *p;
  size_t n;
} fz_reader;
uint8_t fz_u8(fz_reader *r);
uint32_t fz_u32(fz_reader *r);
uint64_t fz_u64(fz_reader *r);
/* A slice of up to `max` bytes (length taken from the input). */
size_t fz_slice(fz_reader *r, size_t max, const uint8_t **out);

/* A growable byte buffer (sfbase's, bytes in `p`) and a protobuf writer
 * on top of it; running out of memory aborts the fuzzer. */
typedef sfb_buf fz_buf;
void fz_buf_free(fz_buf *b);
void fz_put(fz_buf *b, const void *data, size_t len);
void pb_varint(fz_buf *b, uint64_t v);
void pb_tag(fz_buf *b, uint32_t field, uint32_t wire_type);
void pb_uint(fz_buf *b, uint32_t field, uint64_t v);      /* varint */
void pb_lenf(fz_buf *b, uint32_t field, const void *d, size_t n); /* LEN */
void pb_str(fz_buf *b, uint32_t field, const char *s);
/* Moves `child` into `b` as a LEN field and frees it. */
void pb_msg(fz_buf *b, uint32_t field, fz_buf *child);

/* A valid encoding of a value of `type` built from fuzz bytes (into `out`,
 * which is cleared first). */
void fz_encode_value(fz_reader *r, const sf_type *type, fz_buf *out);

#endif
