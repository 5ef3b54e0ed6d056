/*
 * statefun.h - libstatefun, the C SDK for Apache Flink Stateful Functions
 * (StateFun 3.x) remote functions.
 *
 * This header is the whole public API of the SDK. It turns the bytes of a
 * StateFun ToFunction request into the bytes of a FromFunction reply by
 * running your C functions; it knows nothing about HTTP (see
 * <statefun/server.h> for serving handlers with libmicrohttpd).
 *
 * The model, in five lines:
 *   - A function type is "namespace/name"; an instance is an address
 *     (type + id). Flink routes messages to addresses and keeps their state.
 *   - A function declares its state up front as value specs (name, type,
 *     expiration). Flink sends the state with every batch of messages.
 *   - Your callback runs once per message, in order, for a whole batch;
 *     state written by one invocation is seen by the next.
 *   - Through the context it reads/writes/clears state, sends messages
 *     (now or delayed, optionally cancellable), and emits egress records.
 *   - Only state that changed travels back. If the callback fails, the whole
 *     batch fails and nothing of it is sent back; the runtime retries.
 *
 * Memory: everything the SDK hands to a callback (messages, strings, values
 * built with sf_value_*, protobuf messages and JSON values it decoded)
 * lives in a per-request arena and stays valid until the request is
 * answered. You never free any of it. Objects you create yourself (with
 * *_new, or jansson's json_*) are yours to free.
 *
 * Threads: a sf_handler is immutable once you start handling requests and
 * may be shared by any number of threads, each with its own sf_arena.
 */
#ifndef STATEFUN_STATEFUN_H
#define STATEFUN_STATEFUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SF_API marks every function and object libstatefun exports; the library
 * is built with hidden visibility, so nothing else leaves it. */
#if defined(SF_BUILDING_LIBRARY) && (defined(__GNUC__) || defined(__clang__))
#define SF_API __attribute__((visibility("default")))
#else
#define SF_API
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                  */
/* ------------------------------------------------------------------------ */

/* SF_VERSION_MAJOR, _MINOR, _PATCH and SF_VERSION_STRING: the version of
 * these headers (generated from the CMake project version). */
#include <statefun/version.h>

/* The version of the library actually loaded ("0.1.0"), which can differ
 * from SF_VERSION_STRING when a program runs against another build. */
SF_API const char *sf_version(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Every fallible call returns a sf_status: SF_OK (0) or a negative code.
 * SF_STATUS_LIST is the one list of them: X(name, code, message) per
 * status, expanded here into the enum and in the library into
 * sf_strerror() and sf_status_name().
 */
#define SF_STATUS_LIST(X) \
  /* success */ \
  X(SF_OK, 0, "success") \
  /* out of memory (or the arena limit hit) */ \
  X(SF_ERR_NOMEM, -1, "out of memory") \
  /* a NULL or malformed argument */ \
  X(SF_ERR_INVALID_ARGUMENT, -2, "invalid argument") \
  /* not "namespace/name" with one '/' */ \
  X(SF_ERR_BAD_TYPENAME, -3, "typename is not of the form namespace/name") \
  /* not [A-Za-z_][A-Za-z0-9_]* */ \
  X(SF_ERR_BAD_STATE_NAME, -4, "state name is not [A-Za-z_][A-Za-z0-9_]*") \
  /* a function or value spec registered twice */ \
  X(SF_ERR_DUPLICATE, -5, "registered twice") \
  /* the request is not a valid ToFunction */ \
  X(SF_ERR_DECODE, -6, "malformed ToFunction protobuf") \
  /* the request carries no invocation batch */ \
  X(SF_ERR_NO_INVOCATION, -7, "request carries no invocation batch") \
  /* no function registered for the target */ \
  X(SF_ERR_UNKNOWN_FUNCTION, -8, "unknown function type") \
  /* the spec is not declared by this function */ \
  X(SF_ERR_UNKNOWN_STATE, -9, "state is not declared by this function") \
  /* state or message holds no value */ \
  X(SF_ERR_NO_VALUE, -10, "no value") \
  /* the value's typename is not the expected */ \
  X(SF_ERR_TYPE_MISMATCH, -11, "type mismatch") \
  /* a value's bytes do not decode as its type */ \
  X(SF_ERR_VALUE_DECODE, -12, "value bytes do not decode as their type") \
  /* a user function reported a failure */ \
  X(SF_ERR_FUNCTION_FAILED, -13, "function failed") \
  /* a size limit was exceeded */ \
  X(SF_ERR_TOO_LARGE, -14, "size limit exceeded") \
  /* a value could not be encoded */ \
  X(SF_ERR_ENCODE, -15, "value could not be encoded") \
  /* an operating-system call failed */ \
  X(SF_ERR_IO, -16, "I/O error")

typedef enum sf_status {
#define SF_STATUS_ENUM_ITEM_(name, code, message) name = code,
  SF_STATUS_LIST(SF_STATUS_ENUM_ITEM_)
#undef SF_STATUS_ENUM_ITEM_
} sf_status;

/* A static English description of a status ("out of memory"); never NULL
 * ("unknown status" for a value outside the list). */
SF_API const char *sf_strerror(sf_status status);
/* The status's name ("SF_ERR_NOMEM"), for logs and tests; NULL for a value
 * outside the list. */
SF_API const char *sf_status_name(sf_status status);

/* ------------------------------------------------------------------------ */
/* Arena: the per-request allocator                                         */
/* ------------------------------------------------------------------------ */

/*
 * A bump allocator freed in one call. The handler allocates everything for
 * one request from it; sf_arena_reset() makes all of it reusable while
 * keeping the memory, so a warm arena handles a request with no malloc.
 */
typedef struct sf_arena sf_arena;

/* A new arena; its blocks grow as needed up to `limit` bytes in all
 * (0 = no limit). NULL when out of memory. */
SF_API sf_arena *sf_arena_new(size_t limit);
/* Frees the arena and everything allocated from it. NULL is fine. */
SF_API void sf_arena_free(sf_arena *arena);
/* Forgets all allocations; keeps blocks for reuse up to the retain cap
 * (the largest that fit) and frees the rest. */
SF_API void sf_arena_reset(sf_arena *arena);
/* The retain cap: bytes of blocks kept across a reset. The default is the
 * environment's SF_ARENA_RETAIN (bytes, k/M/G suffix allowed) when the
 * arena is made, else 16 MiB. Memory a request needs beyond it is
 * malloc'd for that request and freed at the next reset. */
SF_API void sf_arena_set_retain(sf_arena *arena, size_t bytes);
SF_API size_t sf_arena_retain(const sf_arena *arena);
/* `size` bytes aligned for any type, or NULL (limit or out of memory). */
SF_API void *sf_arena_alloc(sf_arena *arena, size_t size);
/* A NUL-terminated copy of `len` bytes of `s` in the arena, or NULL. */
SF_API char *sf_arena_strndup(sf_arena *arena, const char *s, size_t len);
/* Bytes handed out since the last reset, and bytes held from the OS. */
SF_API size_t sf_arena_used(const sf_arena *arena);
SF_API size_t sf_arena_capacity(const sf_arena *arena);
/* The arena's limit (0 = none), and whether an allocation was refused
 * because of it since the last reset (to tell "request too large" from
 * "out of memory"). */
SF_API size_t sf_arena_limit(const sf_arena *arena);
SF_API bool sf_arena_over_limit(const sf_arena *arena);
/* How many times the arena has called malloc since it was created. */
SF_API uint64_t sf_arena_mallocs(const sf_arena *arena);

/* ------------------------------------------------------------------------ */
/* Types                                                                    */
/* ------------------------------------------------------------------------ */

/* How a type's bytes are interpreted. */
typedef enum sf_type_kind {
  SF_KIND_BOOL,   /* io.statefun.types/bool,   BooleanWrapper */
  SF_KIND_INT,    /* io.statefun.types/int,    IntWrapper (sfixed32) */
  SF_KIND_LONG,   /* io.statefun.types/long,   LongWrapper (sfixed64) */
  SF_KIND_FLOAT,  /* io.statefun.types/float,  FloatWrapper */
  SF_KIND_DOUBLE, /* io.statefun.types/double, DoubleWrapper */
  SF_KIND_STRING, /* io.statefun.types/string, StringWrapper */
  SF_KIND_RAW,    /* user type: bytes as they are */
  SF_KIND_JSON,   /* user type: UTF-8 JSON text (jansson helpers below) */
  SF_KIND_PROTO,  /* user type: a protobuf-c message */
  SF_KIND_CUSTOM, /* user type: the user's own encoder/decoder (sf_codec) */
} sf_type_kind;

/*
 * A StateFun type: a typename ("namespace/name") and how its bytes are
 * read. The built-in types are the sf_type_* objects below; user types are
 * declared with the SF_TYPE_* initializers, e.g.
 *
 *   static const sf_type user_t = SF_TYPE_JSON("com.example/User");
 *
 * For SF_KIND_PROTO, `proto` is the protobuf-c message descriptor
 * (const ProtobufCMessageDescriptor *, kept as void * so that this header
 * does not need protobuf-c); the typename is conventionally
 * "type.googleapis.com/<full message name>". For SF_KIND_CUSTOM, `proto`
 * is the type's sf_codec (see "User types" below).
 */
typedef struct sf_type {
  const char *type_name;
  sf_type_kind kind;
  const void *proto;
} sf_type;

#define SF_TYPE_RAW(tn) {(tn), SF_KIND_RAW, NULL}
#define SF_TYPE_JSON(tn) {(tn), SF_KIND_JSON, NULL}
#define SF_TYPE_PROTO(tn, descriptor) {(tn), SF_KIND_PROTO, (descriptor)}
#define SF_TYPE_CUSTOM(tn, codec) {(tn), SF_KIND_CUSTOM, (codec)}

SF_API extern const sf_type sf_type_bool;
SF_API extern const sf_type sf_type_int;
SF_API extern const sf_type sf_type_long;
SF_API extern const sf_type sf_type_float;
SF_API extern const sf_type sf_type_double;
SF_API extern const sf_type sf_type_string;

/* The typenames of the built-in types. */
#define SF_TYPENAME_BOOL "io.statefun.types/bool"
#define SF_TYPENAME_INT "io.statefun.types/int"
#define SF_TYPENAME_LONG "io.statefun.types/long"
#define SF_TYPENAME_FLOAT "io.statefun.types/float"
#define SF_TYPENAME_DOUBLE "io.statefun.types/double"
#define SF_TYPENAME_STRING "io.statefun.types/string"
#define SF_TYPENAME_KAFKA_RECORD \
  "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord"
#define SF_TYPENAME_KINESIS_RECORD \
  "type.googleapis.com/io.statefun.sdk.egress.KinesisEgressRecord"

/* True when `len` bytes at `data` are well-formed UTF-8 (no overlong
 * forms, no surrogates, nothing above U+10FFFF): what protobuf requires of
 * string fields and what the official SDKs accept. */
SF_API bool sf_utf8_valid(const void *data, size_t len);

/* SF_OK when `type_name` is "namespace/name": one '/', both sides
 * non-empty; SF_ERR_BAD_TYPENAME otherwise. */
SF_API sf_status sf_typename_validate(const char *type_name);

/*
 * A typed value as it travels on the wire: typename, whether it holds a
 * value, and the encoded bytes. Values from the SDK point into the
 * request arena. has_value == false means "no value" (bytes are ignored).
 */
typedef struct sf_value {
  const char *type_name;
  bool has_value;
  const uint8_t *data;
  size_t len;
} sf_value;

/* The built-in encodings, byte-identical to the official SDKs (proto3
 * wrappers; zero, false and "" encode as zero bytes). `out` needs at most
 * 9 bytes for the numeric types; the return value is the encoded length. */
SF_API size_t sf_encode_bool(bool v, uint8_t out[2]);
SF_API size_t sf_encode_int(int32_t v, uint8_t out[5]);
SF_API size_t sf_encode_long(int64_t v, uint8_t out[9]);
SF_API size_t sf_encode_float(float v, uint8_t out[5]);
SF_API size_t sf_encode_double(double v, uint8_t out[9]);
/* Decoders accept any valid proto3 encoding of the wrapper (unknown fields
 * skipped, last value wins); SF_ERR_VALUE_DECODE otherwise. The string
 * decoder returns a pointer into `data` and the length (not terminated). */
SF_API sf_status sf_decode_bool(const uint8_t *data, size_t len, bool *out);
SF_API sf_status sf_decode_int(const uint8_t *data, size_t len, int32_t *out);
SF_API sf_status sf_decode_long(const uint8_t *data, size_t len, int64_t *out);
SF_API sf_status sf_decode_float(const uint8_t *data, size_t len, float *out);
SF_API sf_status sf_decode_double(const uint8_t *data, size_t len, double *out);
SF_API sf_status sf_decode_string(const uint8_t *data, size_t len,
                                  const char **s, size_t *slen);

/* ------------------------------------------------------------------------ */
/* Addresses                                                                */
/* ------------------------------------------------------------------------ */

/* A function instance. Strings are NUL-terminated. */
typedef struct sf_address {
  const char *namespace_;
  const char *type;
  const char *id;
} sf_address;

/* Splits a typename at its last '/' (as the official SDKs' TypeName does):
 * the namespace is the first `*ns_len` bytes of `type_name`, the name
 * starts at `*name` (either may be NULL). SF_ERR_BAD_TYPENAME when there is
 * no '/' or a side is empty. */
SF_API sf_status sf_typename_split(const char *type_name, size_t *ns_len,
                                   const char **name);
/* True when the address is of the function type `type_name` ("ns/name")
 * and, unless `id` is NULL, has that id:
 *   if (sf_caller(ctx) && sf_address_is(sf_caller(ctx), "shop/cart", NULL))
 */
SF_API bool sf_address_is(const sf_address *a, const char *type_name,
                          const char *id);

/* ------------------------------------------------------------------------ */
/* Value specs (declared state)                                             */
/* ------------------------------------------------------------------------ */

typedef enum sf_expire_mode {
  SF_EXPIRE_NONE = 0,
  SF_EXPIRE_AFTER_WRITE = 1, /* expires `expire_after_ms` after a write */
  SF_EXPIRE_AFTER_CALL = 2,  /* ... after the last read or write (AFTER_INVOKE) */
} sf_expire_mode;

/*
 * One piece of state of a function: a name ([A-Za-z_][A-Za-z0-9_]*), a type
 * and an optional expiration. Declare specs as static objects and pass
 * their addresses to sf_state_* calls:
 *
 *   static const sf_value_spec seen = SF_VALUE_SPEC("seen", &sf_type_int);
 */
typedef struct sf_value_spec {
  const char *name;
  const sf_type *type;
  sf_expire_mode expire_mode;
  int64_t expire_after_ms;
} sf_value_spec;

#define SF_VALUE_SPEC(name, type) {(name), (type), SF_EXPIRE_NONE, 0}
#define SF_VALUE_SPEC_EXPIRE_AFTER_WRITE(name, type, ms) \
  {(name), (type), SF_EXPIRE_AFTER_WRITE, (ms)}
#define SF_VALUE_SPEC_EXPIRE_AFTER_CALL(name, type, ms) \
  {(name), (type), SF_EXPIRE_AFTER_CALL, (ms)}

/* SF_OK when `name` is a valid state name, SF_ERR_BAD_STATE_NAME if not. */
SF_API sf_status sf_state_name_validate(const char *name);

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */
/* ------------------------------------------------------------------------ */

/* A message delivered to a function: its target (this function's address)
 * and its typed value. */
typedef struct sf_message {
  sf_address target;
  sf_value value;
} sf_message;

/* True when the message's typename is that of the type. */
SF_API bool sf_message_is(const sf_message *msg, const sf_type *type);
SF_API bool sf_message_is_bool(const sf_message *msg);
SF_API bool sf_message_is_int(const sf_message *msg);
SF_API bool sf_message_is_long(const sf_message *msg);
SF_API bool sf_message_is_float(const sf_message *msg);
SF_API bool sf_message_is_double(const sf_message *msg);
SF_API bool sf_message_is_string(const sf_message *msg);

/* Typed accessors: SF_ERR_TYPE_MISMATCH if the typename differs,
 * SF_ERR_NO_VALUE without a value, SF_ERR_VALUE_DECODE on bad bytes. */
SF_API sf_status sf_message_as_bool(const sf_message *msg, bool *out);
SF_API sf_status sf_message_as_int(const sf_message *msg, int32_t *out);
SF_API sf_status sf_message_as_long(const sf_message *msg, int64_t *out);
SF_API sf_status sf_message_as_float(const sf_message *msg, float *out);
SF_API sf_status sf_message_as_double(const sf_message *msg, double *out);
/* A string: `*out` points into the request (valid during the callback),
 * `*len` is its length in bytes. `len` may be NULL. The string is NOT
 * necessarily NUL-terminated: copy it with sf_context_strdup for that. */
SF_API sf_status sf_message_as_string(const sf_message *msg, const char **out,
                                      size_t *len);

/* ------------------------------------------------------------------------ */
/* Context and function callbacks                                           */
/* ------------------------------------------------------------------------ */

/* The context of one invocation: state, caller, outgoing messages. */
typedef struct sf_context sf_context;

/*
 * A function. Return SF_OK on success; any other status fails the whole
 * batch (the reply becomes an error and nothing of the batch is kept).
 * Give a reason with sf_context_fail().
 */
typedef sf_status (*sf_function_fn)(sf_context *ctx, const sf_message *msg,
                                    void *user_data);

/* This function's address (the message's target). */
SF_API const sf_address *sf_self(const sf_context *ctx);
/* The sender's address, or NULL when the message came from an ingress. */
SF_API const sf_address *sf_caller(const sf_context *ctx);
/* The request arena, for scratch memory that lives until the reply. */
SF_API sf_arena *sf_context_arena(sf_context *ctx);
/* A NUL-terminated copy of a string, in the request arena. */
SF_API char *sf_context_strdup(sf_context *ctx, const char *s, size_t len);

/* printf into the request arena (valid until the reply); `*len` (may be
 * NULL) gets the length. NULL when out of memory or on a format error. */
SF_API char *sf_context_printf(sf_context *ctx, size_t *len, const char *fmt,
                               ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/*
 * Fails the invocation: records a printf-style reason (kept for the HTTP
 * error body and logs) and returns SF_ERR_FUNCTION_FAILED, so a callback
 * can write `return sf_context_fail(ctx, "bad input %d", n);`. The first
 * reason given this way is the one reported; without one, the reason the
 * SDK recorded for the failing call (naming the state and the fix) is.
 */
SF_API sf_status sf_context_fail(sf_context *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- building values ---------------------------------------------------- */

/*
 * Value constructors encode into the request arena. On failure (out of
 * memory, bad argument) they return a value whose typename is NULL, which
 * every consumer (send, state set, egress) rejects; the failure is also
 * remembered by the context, so the batch fails.
 */
SF_API sf_value sf_value_bool(sf_context *ctx, bool v);
SF_API sf_value sf_value_int(sf_context *ctx, int32_t v);
SF_API sf_value sf_value_long(sf_context *ctx, int64_t v);
SF_API sf_value sf_value_float(sf_context *ctx, float v);
SF_API sf_value sf_value_double(sf_context *ctx, double v);
/* `len` bytes of `s` (UTF-8; need not be terminated). */
SF_API sf_value sf_value_string(sf_context *ctx, const char *s, size_t len);
/* A NUL-terminated string. */
SF_API sf_value sf_value_cstring(sf_context *ctx, const char *s);
/* Bytes of a user type, copied into the arena. */
SF_API sf_value sf_value_bytes(sf_context *ctx, const sf_type *type,
                               const void *data, size_t len);

/* ---- state -------------------------------------------------------------- */

/*
 * State access. `spec` must be one of the specs the function was registered
 * with (matched by pointer, then by name); otherwise SF_ERR_UNKNOWN_STATE.
 * Reads see earlier writes of the same batch.
 */

/* True when the state holds a value. */
SF_API bool sf_state_has(sf_context *ctx, const sf_value_spec *spec);
/* The raw state value (typename + bytes). SF_ERR_NO_VALUE when absent. */
SF_API sf_status sf_state_get(sf_context *ctx, const sf_value_spec *spec,
                              sf_value *out);
/* Typed reads: SF_ERR_NO_VALUE when absent, SF_ERR_TYPE_MISMATCH when the
 * spec's type is not that kind, SF_ERR_VALUE_DECODE on bad bytes. */
SF_API sf_status sf_state_get_bool(sf_context *ctx, const sf_value_spec *spec,
                                   bool *out);
SF_API sf_status sf_state_get_int(sf_context *ctx, const sf_value_spec *spec,
                                  int32_t *out);
SF_API sf_status sf_state_get_long(sf_context *ctx, const sf_value_spec *spec,
                                   int64_t *out);
SF_API sf_status sf_state_get_float(sf_context *ctx, const sf_value_spec *spec,
                                    float *out);
SF_API sf_status sf_state_get_double(sf_context *ctx, const sf_value_spec *spec,
                                     double *out);
/* Modifies a state's bytes where they are: `*data` points at the current
 * value's `*len` bytes (len may be NULL), writable until the reply, and the
 * state is sent back as written with the same typename. A value that came
 * with the request is not copied (a read-modify-write of 500 KB costs no
 * 500 KB copy); one a function set in this batch is copied once. The bytes
 * an earlier sf_state_get returned for this state may change with it.
 * SF_ERR_NO_VALUE when absent (set a value first). */
SF_API sf_status sf_state_update(sf_context *ctx, const sf_value_spec *spec,
                                 uint8_t **data, size_t *len);
/* A string state; `*out` valid until the reply, `len` may be NULL. */
SF_API sf_status sf_state_get_string(sf_context *ctx, const sf_value_spec *spec,
                                     const char **out, size_t *len);

/* Reads with a default, in one call: the state's value, or `dflt` when it
 * holds none. Any other failure (a spec the function did not declare, a
 * spec of another type, bytes that do not decode) also returns `dflt` and
 * fails the batch with a reason naming the state and the function, like a
 * failed sf_value_*:
 *
 *   int64_t balance = sf_state_get_long_or(ctx, &balance_spec, 0);
 */
SF_API bool sf_state_get_bool_or(sf_context *ctx, const sf_value_spec *spec,
                                 bool dflt);
SF_API int32_t sf_state_get_int_or(sf_context *ctx, const sf_value_spec *spec,
                                   int32_t dflt);
SF_API int64_t sf_state_get_long_or(sf_context *ctx, const sf_value_spec *spec,
                                    int64_t dflt);
SF_API float sf_state_get_float_or(sf_context *ctx, const sf_value_spec *spec,
                                   float dflt);
SF_API double sf_state_get_double_or(sf_context *ctx,
                                     const sf_value_spec *spec, double dflt);
/* A string state as a NUL-terminated copy in the request arena (valid until
 * the reply), or `dflt` itself; `len` (may be NULL) gets the length. */
SF_API const char *sf_state_get_string_or(sf_context *ctx,
                                          const sf_value_spec *spec,
                                          const char *dflt, size_t *len);

/* Writes a value; its typename must equal the spec type's typename
 * (SF_ERR_TYPE_MISMATCH otherwise). The bytes are not copied: pass values
 * built with sf_value_* or bytes that live until the reply. */
SF_API sf_status sf_state_set(sf_context *ctx, const sf_value_spec *spec,
                              sf_value value);
SF_API sf_status sf_state_set_bool(sf_context *ctx, const sf_value_spec *spec,
                                   bool v);
SF_API sf_status sf_state_set_int(sf_context *ctx, const sf_value_spec *spec,
                                  int32_t v);
SF_API sf_status sf_state_set_long(sf_context *ctx, const sf_value_spec *spec,
                                   int64_t v);
SF_API sf_status sf_state_set_float(sf_context *ctx, const sf_value_spec *spec,
                                    float v);
SF_API sf_status sf_state_set_double(sf_context *ctx, const sf_value_spec *spec,
                                     double v);
SF_API sf_status sf_state_set_string(sf_context *ctx, const sf_value_spec *spec,
                                     const char *s, size_t len);
/* Removes the value. Like the official SDKs, a DELETE mutation is sent
 * even when the state was already empty. */
SF_API sf_status sf_state_clear(sf_context *ctx, const sf_value_spec *spec);

/* ---- messages, delays, egress ------------------------------------------- */

/* Sends `value` to the function `target_typename` ("ns/name") with `id`. */
SF_API sf_status sf_send(sf_context *ctx, const char *target_typename,
                         const char *id, sf_value value);
/* Sends after `delay_ms` (>= 0) milliseconds. `cancellation_token` may be
 * NULL or "" for a message that cannot be cancelled. */
SF_API sf_status sf_send_after(sf_context *ctx, int64_t delay_ms,
                               const char *cancellation_token,
                               const char *target_typename, const char *id,
                               sf_value value);
/* Cancels a delayed message by its (non-empty) token; a no-op on the
 * runtime's side if it was already delivered. */
SF_API sf_status sf_cancel_delayed(sf_context *ctx,
                                   const char *cancellation_token);
/* Sends `value` to the egress `egress_typename` (its id in module.yaml). */
SF_API sf_status sf_egress(sf_context *ctx, const char *egress_typename,
                           sf_value value);
/* A Kafka record to StateFun's generic Kafka egress. `key` may be NULL or
 * "" (no key); `topic` must be non-empty. */
SF_API sf_status sf_egress_kafka(sf_context *ctx, const char *egress_typename,
                                 const char *topic, const char *key,
                                 const void *value, size_t value_len);
/* A Kafka record whose value is a typed value's bytes (an int's wrapper
 * bytes, JSON text, a packed protobuf message: what the official SDKs'
 * Kafka egress builders write for a typed value) and whose key is `key_len`
 * bytes (0: no key). The key must be UTF-8: KafkaProducerRecord carries it
 * as a string and StateFun writes its UTF-8 bytes to Kafka, so arbitrary
 * binary keys cannot travel; encode them (hex, base64) first. A key that is
 * not UTF-8 fails with SF_ERR_INVALID_ARGUMENT and a reason; sf_egress_kafka
 * checks its key the same way. */
SF_API sf_status sf_egress_kafka_value(sf_context *ctx,
                                       const char *egress_typename,
                                       const char *topic, const void *key,
                                       size_t key_len, sf_value value);
/* A Kinesis record to StateFun's generic Kinesis egress. `partition_key`
 * and `stream` must be non-empty; `explicit_hash_key` may be NULL. */
SF_API sf_status sf_egress_kinesis(sf_context *ctx, const char *egress_typename,
                                   const char *stream,
                                   const char *partition_key,
                                   const char *explicit_hash_key,
                                   const void *value, size_t value_len);

/* ------------------------------------------------------------------------ */
/* User types: JSON (jansson) and protobuf-c                                */
/* ------------------------------------------------------------------------ */

/* These take jansson's json_t and protobuf-c's ProtobufCMessage; the
 * forward declarations keep this header free of those includes. */
struct json_t;
struct ProtobufCMessage;

/* JSON text of `json` (compact, keys sorted) as a value of `type`
 * (SF_KIND_JSON). */
SF_API sf_value sf_value_json(sf_context *ctx, const sf_type *type,
                              const struct json_t *json);
/* Parses a JSON message/state. Like a protobuf message unpacked by
 * sf_message_as_proto, the value belongs to the request: it stays valid
 * (and yours to read or modify) until the request is answered, and you do
 * not json_decref() it (json_incref() it to keep it longer; then that
 * reference is yours). SF_ERR_TYPE_MISMATCH for another typename,
 * SF_ERR_VALUE_DECODE for text that is not JSON (the reason quotes
 * jansson's). */
SF_API sf_status sf_message_as_json(sf_context *ctx, const sf_message *msg,
                                    const sf_type *type, struct json_t **out);
SF_API sf_status sf_state_get_json(sf_context *ctx, const sf_value_spec *spec,
                                   struct json_t **out);
SF_API sf_status sf_state_set_json(sf_context *ctx, const sf_value_spec *spec,
                                   const struct json_t *json);

/* A protobuf-c message packed as a value of `type` (SF_KIND_PROTO). NULL
 * (an absent sub-message in protobuf-c) is the empty message, as the Java
 * and Go getters give it: a value with no bytes. A message of another
 * descriptor is refused (SF_ERR_INVALID_ARGUMENT, the batch fails). */
SF_API sf_value sf_value_proto(sf_context *ctx, const sf_type *type,
                               const struct ProtobufCMessage *msg);
/* Unpacks a message/state of a SF_KIND_PROTO type into the request arena
 * (valid until the reply; do not free it). */
SF_API sf_status sf_message_as_proto(sf_context *ctx, const sf_message *msg,
                                     const sf_type *type,
                                     struct ProtobufCMessage **out);
SF_API sf_status sf_state_get_proto(sf_context *ctx, const sf_value_spec *spec,
                                    struct ProtobufCMessage **out);
SF_API sf_status sf_state_set_proto(sf_context *ctx, const sf_value_spec *spec,
                                    const struct ProtobufCMessage *msg);

/*
 * Typed forms, no cast: `out` is a pointer to a pointer to the generated
 * struct, e.g.
 *
 *   static const sf_type order_t = SF_TYPE_PROTO(
 *       "type.googleapis.com/shop.Order", &shop__order__descriptor);
 *   Shop__Order *order;
 *   sf_status st = SF_MESSAGE_AS_PROTO(ctx, msg, &order_t, &order);
 *
 * The struct must be the one of the type's descriptor (its size is
 * checked against the descriptor's): SF_ERR_TYPE_MISMATCH otherwise, and
 * `*out` is left alone. It must be a protobuf-c message (have `base`) or
 * the call does not compile. Otherwise as sf_message_as_proto /
 * sf_state_get_proto.
 */
#define SF_MESSAGE_AS_PROTO(ctx, msg, type, out)                     \
  sf_message_as_proto_sized((ctx), (msg), (type),                    \
                            sizeof(**(out)) + 0 * sizeof((*(out))->base), \
                            (void *)(out))
#define SF_STATE_GET_PROTO(ctx, spec, out)                           \
  sf_state_get_proto_sized((ctx), (spec),                            \
                           sizeof(**(out)) + 0 * sizeof((*(out))->base), \
                           (void *)(out))
SF_API sf_status sf_message_as_proto_sized(sf_context *ctx,
                                           const sf_message *msg,
                                           const sf_type *type, size_t c_size,
                                           void *out);
SF_API sf_status sf_state_get_proto_sized(sf_context *ctx,
                                          const sf_value_spec *spec,
                                          size_t c_size, void *out);

/*
 * Custom types: your own encoding (the official SDKs' SimpleType / Type),
 * for messages and state alike. A codec turns your object into bytes and
 * back; `obj`/`out` are pointers to your object, passed through untouched.
 *
 *   static sf_status point_enc(sf_arena *a, const void *obj,
 *                              const uint8_t **data, size_t *len, void *u);
 *   static sf_status point_dec(sf_arena *a, const uint8_t *data, size_t len,
 *                              void *out, void *u);
 *   static const sf_codec point_codec = {point_enc, point_dec, NULL};
 *   static const sf_type point_t = SF_TYPE_CUSTOM("geo/Point", &point_codec);
 *
 *   struct point p;
 *   if (sf_message_as_custom(ctx, msg, &point_t, &p) == SF_OK) ...
 *   sf_send(ctx, "geo/tracker", id, sf_value_custom(ctx, &point_t, &p));
 */
typedef struct sf_codec {
  /* Writes the bytes of `obj`: `*data` (allocated from `arena`, or any
   * bytes that live until the reply) and `*len`. Any status but SF_OK
   * fails the value (SF_ERR_ENCODE is the usual one). */
  sf_status (*encode)(sf_arena *arena, const void *obj, const uint8_t **data,
                      size_t *len, void *user_data);
  /* Reads `len` bytes into the object at `out` (memory it needs beyond that
   * object may come from `arena`, freed with the request). Return
   * SF_ERR_VALUE_DECODE for bytes that are not a value of the type. */
  sf_status (*decode)(sf_arena *arena, const uint8_t *data, size_t len,
                      void *out, void *user_data);
  void *user_data;
} sf_codec;

/* A value of a SF_KIND_CUSTOM type, encoded by its codec; like the other
 * constructors, a failure gives a value that every consumer refuses and
 * fails the batch with a reason naming the type. */
SF_API sf_value sf_value_custom(sf_context *ctx, const sf_type *type,
                                const void *obj);
/* Decodes a message / state of a SF_KIND_CUSTOM type into `*out`:
 * SF_ERR_TYPE_MISMATCH, SF_ERR_NO_VALUE, or the decoder's status. */
SF_API sf_status sf_message_as_custom(sf_context *ctx, const sf_message *msg,
                                      const sf_type *type, void *out);
SF_API sf_status sf_state_get_custom(sf_context *ctx, const sf_value_spec *spec,
                                     void *out);
SF_API sf_status sf_state_set_custom(sf_context *ctx, const sf_value_spec *spec,
                                     const void *obj);

/* ------------------------------------------------------------------------ */
/* Handler: functions in, bytes to bytes                                    */
/* ------------------------------------------------------------------------ */

/* A set of functions, each bound to a function type. */
typedef struct sf_handler sf_handler;

/* A new, empty handler (NULL when out of memory). */
SF_API sf_handler *sf_handler_new(void);
SF_API void sf_handler_free(sf_handler *handler);

/*
 * Registers `fn` for the function type `type_name` ("ns/name") with its
 * value specs. `specs` is an array of `n_specs` pointers to specs that must
 * outlive the handler (declare them static). Errors: SF_ERR_BAD_TYPENAME,
 * SF_ERR_BAD_STATE_NAME, SF_ERR_DUPLICATE (typename or spec name twice),
 * SF_ERR_INVALID_ARGUMENT (NULL fn, spec without type, negative expiry,
 * expiration mode without a positive duration).
 */
SF_API sf_status sf_handler_register(sf_handler *handler, const char *type_name,
                                     sf_function_fn fn, void *user_data,
                                     const sf_value_spec *const *specs,
                                     size_t n_specs);

/* Number of registered functions, and the typename of function `i`. */
SF_API size_t sf_handler_function_count(const sf_handler *handler);
SF_API const char *sf_handler_function_typename(const sf_handler *handler,
                                                size_t i);

/* What one call of sf_handler_handle did, for logs, metrics and errors. */
typedef struct sf_handle_info {
  /* Index of the target function (see sf_handler_function_typename), or
   * -1 when the request did not get as far as a function. */
  int function_index;
  /* Invocations run (0 when state was missing or decoding failed). */
  size_t invocations;
  /* True when the reply asks for missing state. */
  bool incomplete;
  /* A human-readable reason when the status is not SF_OK ("" otherwise):
   * what failed, where (function type and id) and the fix. */
  char error[512];
} sf_handle_info;

/*
 * Caps on one request, against a hostile or broken caller: a ToFunction is
 * otherwise bounded only by its size and the arena's limit (a 2 MB body
 * can carry 10^6 empty invocations). A request over a cap is refused
 * before any function runs: SF_ERR_TOO_LARGE (the function server answers
 * 413), with a reason naming the cap and its count. 0 takes the default.
 *   max_invocations   10000  invocations in one batch. Flink sends at most
 *                            maxNumBatchRequests per batch (module.yaml,
 *                            default 1000); raise this with it
 *   max_state_values  10000  state values (PersistedValue) in one request.
 *                            Flink sends the states the function declared
 */
typedef struct sf_request_limits {
  size_t max_invocations;
  size_t max_state_values;
} sf_request_limits;

#define SF_DEFAULT_MAX_INVOCATIONS 10000
#define SF_DEFAULT_MAX_STATE_VALUES 10000

/*
 * Handles one request: `request` holds a serialized ToFunction. On SF_OK,
 * `*reply`/`*reply_len` hold the serialized FromFunction, allocated in
 * `arena` (valid until the arena is reset or freed). Statuses:
 *   SF_ERR_DECODE / SF_ERR_NO_INVOCATION: bad request (HTTP 400)
 *   SF_ERR_UNKNOWN_FUNCTION: no such function type (HTTP 404)
 *   SF_ERR_FUNCTION_FAILED and others: the batch failed (HTTP 500)
 *   SF_ERR_TOO_LARGE: more invocations or state values than the default
 *     sf_request_limits allow (HTTP 413); nothing ran
 *   SF_ERR_NOMEM: out of memory or arena limit (HTTP 500)
 * `info` may be NULL; when given it is always filled in.
 */
SF_API sf_status sf_handler_handle(const sf_handler *handler,
                                   const uint8_t *request, size_t request_len,
                                   sf_arena *arena, uint8_t **reply,
                                   size_t *reply_len, sf_handle_info *info);

/* sf_handler_handle with the caps of `limits` (NULL, or a 0 field, takes
 * the default). Same statuses; SF_ERR_TOO_LARGE names the cap in
 * info->error. */
SF_API sf_status sf_handler_handle_limited(const sf_handler *handler,
                                           const sf_request_limits *limits,
                                           const uint8_t *request,
                                           size_t request_len, sf_arena *arena,
                                           uint8_t **reply, size_t *reply_len,
                                           sf_handle_info *info);

#ifdef __cplusplus
}
#endif

#endif /* STATEFUN_STATEFUN_H */
