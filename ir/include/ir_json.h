/*
 * ir_json.h - a generic, IR-driven JSON <-> record codec: turns the JSON a
 * person types into the protobuf wire bytes the generated code reads
 * (docs/entities.md, "Records and field encodings"), and any record the
 * generated code writes back into JSON. sf-local's HTTP front uses it to
 * call entity methods with JSON arguments and to show entity state.
 *
 * The bytes are exactly those of the generated encoders (gen_codec.c in
 * codegen/src): bool varint, int32/int64 zig-zag varint, float fixed32,
 * double fixed64, string/bytes/ref LEN, record LEN of its fields 1..n in
 * declaration order, list<T> repeated (not packed), map<T> repeated entry
 * {1: key, 2: value}, a list or map inside a list or as a map value
 * wrapped as {1: value}; proto3 defaults (0, false, "") of singular fields
 * are not written.
 * Decoding also accepts packed numeric lists and skips unknown fields.
 *
 * JSON forms: bool true/false; int32 an integer; int64 an integer or a
 * decimal string (JavaScript loses precision above 2^53); float/double a
 * number, or "NaN", "Infinity", "-Infinity"; string a string; bytes a
 * base64 string (RFC 4648, standard alphabet, padding optional on input,
 * always written); ref<E> the key string; list an array; map an object;
 * record an object with every field (no unknown ones). Decoding writes
 * every field, with the zero value for absent ones.
 *
 * Errors: every function returns -1 / NULL with ONE message in err that
 * says where and what, e.g.
 *   argument 'items'[2]: expected a string (ref<Item> key), got 3
 * Outputs are malloc'd (free / json_decref).
 */
#ifndef SFC_IR_JSON_H
#define SFC_IR_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ir.h"

/* A method's arguments (a JSON object of its params; NULL counts as {})
 * -> the Args record bytes. *out may be NULL when *len is 0. */
int sfc_json_encode_args(const sfc_method *m, const json_t *args,
                         uint8_t **out, size_t *len, char *err,
                         size_t err_len);

/* A record's fields from a JSON object -> its bytes. `what` names the
 * value in messages (e.g. "value"). */
int sfc_json_encode_record(const sfc_record *r, const json_t *obj,
                           const char *what, uint8_t **out, size_t *len,
                           char *err, size_t err_len);

/* A value as the message {1: value} (a method's Result record, a
 * composite state field that is not a record). */
int sfc_json_encode_wrapped(const sfc_type *t, const json_t *v,
                            const char *what, uint8_t **out, size_t *len,
                            char *err, size_t err_len);

/* A state field's default (default_json as the IR checker accepted it,
 * no default: the type's zero) -> the bytes stored for it, the form
 * sfc_json_decode_state reads: a record's own bytes, else {1: value}.
 * As in the IR, a record default may leave fields out (they are zero).
 * sf-codegen embeds these bytes in the generated code. */
int sfc_json_encode_default(const sfc_field *f, uint8_t **out, size_t *len,
                            char *err, size_t err_len);

/* Args record bytes -> a JSON object of the params. */
json_t *sfc_json_decode_args(const sfc_method *m, const uint8_t *p, size_t n,
                             char *err, size_t err_len);

/* A Result record ({1: value}) -> the JSON value; json null for void
 * methods (whatever the bytes). */
json_t *sfc_json_decode_result(const sfc_method *m, const uint8_t *p,
                               size_t n, char *err, size_t err_len);

/* The same as text: json_dumps(sfc_json_decode_result(m, p, n),
 * JSON_COMPACT) appended to out, without building the tree, for the wire
 * form the generated encoders write (fields in order, each singular one
 * once, lists unpacked, no maps). 0 when written; -1 (out unchanged) for
 * any other input, which sfc_json_decode_result then decodes or refuses
 * with its message. */
struct sfb_buf;
int sfc_json_write_result(const sfc_method *m, const uint8_t *p, size_t n,
                          struct sfb_buf *out);

/* A record's bytes -> a JSON object with every field. */
json_t *sfc_json_decode_record(const sfc_record *r, const uint8_t *p,
                               size_t n, char *err, size_t err_len);

/* The message {1: value} -> the value (the zero value when absent). */
json_t *sfc_json_decode_wrapped(const sfc_type *t, const uint8_t *p,
                                size_t n, char *err, size_t err_len);

/* A composite state field's stored bytes (value spec
 * <ns>.types/<Entity>.<field>): a record's own bytes, else {1: value}. */
json_t *sfc_json_decode_state(const sfc_type *t, const uint8_t *p, size_t n,
                              char *err, size_t err_len);

/* Strict standard base64 (padding optional) -> malloc'd bytes (*out may
 * be NULL when *len is 0). -1 when malformed or out of memory. */
int sfc_base64_decode(const char *s, size_t n, uint8_t **out, size_t *len);

/* The zero value of a type as JSON (null for void). */
json_t *sfc_json_zero(const sfc_type *t);

#endif
