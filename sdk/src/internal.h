/*
 * internal.h - what the SDK's source files share and nobody else sees:
 * short names for the protobuf-c generated types, the arena-backed
 * protobuf-c allocator, and the layout of handlers and contexts.
 */
#ifndef SF_INTERNAL_H
#define SF_INTERNAL_H

#include <protobuf-c/protobuf-c.h>
#include <stdarg.h>

#include "statefun/statefun.h"
#include "request_reply.pb-c.h"

/* Short names for the wire messages (io.statefun.sdk.reqreply.*). */
typedef Io__Statefun__Sdk__Reqreply__Address pb_address;
typedef Io__Statefun__Sdk__Reqreply__TypedValue pb_typed_value;
typedef Io__Statefun__Sdk__Reqreply__ToFunction pb_to_function;
typedef Io__Statefun__Sdk__Reqreply__ToFunction__PersistedValue pb_persisted_value;
typedef Io__Statefun__Sdk__Reqreply__ToFunction__Invocation pb_invocation;
typedef Io__Statefun__Sdk__Reqreply__ToFunction__InvocationBatchRequest pb_batch;
typedef Io__Statefun__Sdk__Reqreply__FromFunction pb_from_function;
typedef Io__Statefun__Sdk__Reqreply__FromFunction__PersistedValueMutation pb_mutation;
typedef Io__Statefun__Sdk__Reqreply__FromFunction__Invocation pb_out_invocation;
typedef Io__Statefun__Sdk__Reqreply__FromFunction__DelayedInvocation pb_delayed;
typedef Io__Statefun__Sdk__Reqreply__FromFunction__EgressMessage pb_egress;
typedef Io__Statefun__Sdk__Reqreply__FromFunction__InvocationResponse pb_response;
typedef Io__Statefun__Sdk__Reqreply__FromFunction__ExpirationSpec pb_expiration;
typedef Io__Statefun__Sdk__Reqreply__FromFunction__PersistedValueSpec pb_value_spec;
typedef Io__Statefun__Sdk__Reqreply__FromFunction__IncompleteInvocationContext pb_incomplete;

/* A protobuf-c allocator that allocates from `arena` and never frees. */
void sf_arena_protobuf_allocator(sf_arena *arena, ProtobufCAllocator *out);

/* vprintf into the arena: NUL-terminated, `*len` (may be NULL) its length;
 * NULL when out of memory or on a format error. The one implementation
 * behind sf_context_printf and sf_str_printf. */
char *sf_arena_vprintf(sf_arena *arena, size_t *len, const char *fmt,
                       va_list ap);

/* The free bytes at the end of the block being filled (*avail of them;
 * NULL and 0 before the first allocation): scratch room for a writer that
 * learns its length as it writes, which then keeps what it wrote with
 * sf_arena_alloc. That returns this same pointer when the rounded length
 * fits and the limit allows; the caller copies otherwise. */
void *sf_arena_tail(sf_arena *arena, size_t *avail);

/* Calls fn(ptr) at the arena's next reset or free: how objects made
 * outside the arena (jansson values) live exactly as long as it. */
sf_status sf_arena_defer(sf_arena *arena, void (*fn)(void *), void *ptr);

/* Parses a JSON value into a jansson value the arena owns (json_decref'd
 * at its reset); `detail` gets jansson's reason for text that is not JSON.
 * The one JSON reader of sf_message_as_json, sf_state_get_json and the
 * test harness. */
struct json_t;
sf_status sf_json_parse(sf_arena *arena, const sf_value *v, struct json_t **out,
                        char *detail, size_t cap);

/* Copies into the arena (NULL on failure). */
void *sf_arena_memdup(sf_arena *arena, const void *data, size_t len);

/* Splits "ns/name" at its single '/' into two arena strings. */
sf_status sf_split_typename(sf_arena *arena, const char *typename, char **ns,
                            char **name);

/* A registered function. */
typedef struct sf_function {
  char *type_name; /* owned */
  char *ns;       /* owned, the part before '/' */
  char *name;     /* owned, the part after '/' */
  sf_function_fn fn;
  void *user_data;
  const sf_value_spec **specs; /* owned array of borrowed pointers */
  size_t n_specs;
} sf_function;

typedef struct sf_owned {
  void *ptr;
  void (*free_fn)(void *);
} sf_owned;

struct sf_handler {
  sf_function *functions;
  size_t n_functions;
  size_t cap_functions;
  sf_owned *owned; /* freed with the handler (entity registrations) */
  size_t n_owned;
};

/* Makes `ptr` the handler's: free_fn(ptr) runs in sf_handler_free. */
sf_status sf_handler_own(sf_handler *h, void *ptr, void (*free_fn)(void *));

/* The current value of one declared state during a batch. */
typedef struct sf_cell {
  const sf_value_spec *spec;
  sf_value value; /* has_value false: absent */
  bool dirty;     /* written or cleared during this batch */
  /* value.data is the SDK's to modify: the arena's copy of the request, or
   * a copy sf_state_update made; false for bytes a function passed in
   * (they may be read-only). */
  bool writable;
} sf_cell;

/* A growable array of pointers in the arena. */
typedef struct sf_ptr_vec {
  void **items;
  size_t n;
  size_t cap;
} sf_ptr_vec;

struct sf_context {
  sf_arena *arena;
  const sf_function *function;
  sf_address self;
  sf_address caller;
  bool has_caller;
  sf_cell *cells; /* one per spec, in declaration order */
  sf_ptr_vec messages; /* pb_out_invocation* */
  sf_ptr_vec delayed;  /* pb_delayed* */
  sf_ptr_vec egresses; /* pb_egress* */
  sf_status sticky;    /* first failure of a value constructor */
  const char *egress_last; /* the last egress typename split, and its parts */
  char *egress_ns, *egress_type;
  char *error;         /* reason buffer (256 bytes) */
  size_t error_len;
  bool error_is_users; /* the reason is the function's own (sf_context_fail) */
  bool error_locked;   /* the reason fails the batch: later ones do not replace it */
};

/* Appends to a vector in the arena. */
sf_status sf_ptr_vec_push(sf_arena *arena, sf_ptr_vec *vec, void *item);

/* Records a failure reason in the context unless one is there already. */
void sf_context_set_error(sf_context *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Remembers the first failure that fails the batch by itself (a value
 * constructor, a read with a default) and locks the reason: the generic
 * "what: status" one, or with `what` NULL the one the caller recorded. */
void sf_context_sticky(sf_context *ctx, sf_status status, const char *what);
/* sf_context_sticky, returning the null value a failed constructor gives. */
sf_value sf_context_bad_value(sf_context *ctx, sf_status status,
                              const char *what);

/* ---- reasons (status.c: every failure text, with its fix) ---- */

/* The invocation running on this thread, NULL outside a function. */
extern _Thread_local sf_context *sf_current_ctx;
/* Reasons of the message accessors, which take no context: recorded for
 * the invocation running on this thread (no-ops outside one). `test` is
 * the call that checks the type, e.g. "sf_message_is_int(msg)". */
void sf_why_message_type(const sf_message *msg, const char *want,
                         const char *test);
void sf_why_message_empty(const sf_message *msg);
void sf_why_message_decode(const sf_message *msg, const char *detail);
void sf_why_state_undeclared(sf_context *ctx, const sf_value_spec *spec);
void sf_why_state_kind(sf_context *ctx, const sf_value_spec *spec);
void sf_why_state_stored(sf_context *ctx, const sf_value_spec *spec,
                         const char *stored);
void sf_why_state_decode(sf_context *ctx, const sf_value_spec *spec,
                         size_t len, const char *detail);
void sf_why_state_set_type(sf_context *ctx, const sf_value_spec *spec,
                           const char *given);
void sf_why_bad_value(sf_context *ctx, const char *what, sf_status status);
void sf_why_string_utf8(sf_context *ctx, size_t len);
void sf_why_json_type(sf_context *ctx, const sf_type *type);
void sf_why_json_null(sf_context *ctx, const sf_type *type);
void sf_why_proto_descriptor(sf_context *ctx, const sf_type *type,
                             const char *given, const char *want);
void sf_why_custom_encode(sf_context *ctx, const sf_type *type, sf_status st);
/* Sends and egress: `what` is the call ("sf_send"). */
void sf_why_value_untyped(sf_context *ctx, const char *what);
void sf_why_value_typename(sf_context *ctx, const char *what, const char *tn);
void sf_why_target_missing(sf_context *ctx, const char *what, const char *part);
void sf_why_target(sf_context *ctx, const char *what, const char *tn, sf_status st);
void sf_why_negative_delay(sf_context *ctx, long long delay_ms);
void sf_why_empty_token(sf_context *ctx);
void sf_why_egress_id(sf_context *ctx, const char *egress, sf_status st);
void sf_why_egress_missing(sf_context *ctx, const char *what, const char *part);
void sf_why_kafka_key(sf_context *ctx, const char *topic);
/* The batch's reason: function type, id, which invocation, and `reason`
 * (or, when empty, what status `st` means and how to give a reason).
 * `reason` may be `out`. */
void sf_why_batch(char *out, size_t cap, const char *function, const char *id,
                  size_t i, size_t n, sf_status st, const char *reason);
/* Out of memory: the arena's limit (and how to raise it) or the machine's.
 * `function` may be NULL (no function reached). */
void sf_why_memory(char *out, size_t cap, const char *function, const char *id,
                   const sf_arena *arena, size_t request_len);
/* No function for the target: what this handler serves and the fix. */
void sf_why_unknown_function(char *out, size_t cap, const sf_handler *h,
                             const char *ns, const char *type, const char *id);

/* The cell of a spec, or NULL (and an error recorded) if undeclared. */
sf_cell *sf_context_cell(sf_context *ctx, const sf_value_spec *spec);

/* A typed read's cell: `spec` declared, its type of `kind`, a value whose
 * typename is the declared one (each failure with its reason). `out` is
 * the caller's output, checked for NULL. */
sf_status sf_context_typed_cell(sf_context *ctx, const sf_value_spec *spec,
                                sf_type_kind kind, const void *out,
                                const sf_cell **cell);

/* A message checked before a typed read: typename `tn` and a value (each
 * failure with its reason, `test` naming the check that would have
 * avoided it); `out` is the caller's output, checked for NULL. */
sf_status sf_message_check(const sf_message *msg, const char *tn,
                           const void *out, const char *test);

/* Copies a value into the arena (typename and bytes). */
sf_status sf_value_copy(sf_arena *arena, const sf_value *in, sf_value *out);

/* A wire TypedValue in the arena for a value. */
pb_typed_value *sf_typed_value_to_pb(sf_arena *arena, const sf_value *value);

/* An arena wire Address for "ns/name" + id. */
pb_address *sf_address_to_pb(sf_arena *arena, const char *typename,
                             const char *id, sf_status *status);

#endif /* SF_INTERNAL_H */
