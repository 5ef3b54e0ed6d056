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
};

/* Appends to a vector in the arena. */
sf_status sf_ptr_vec_push(sf_arena *arena, sf_ptr_vec *vec, void *item);

/* Records a failure reason in the context unless one is there already. */
void sf_context_set_error(sf_context *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Remembers the first failure of a value constructor; returns a null value. */
sf_value sf_context_bad_value(sf_context *ctx, sf_status status,
                              const char *what);

/* The cell of a spec, or NULL (and an error recorded) if undeclared. */
sf_cell *sf_context_cell(sf_context *ctx, const sf_value_spec *spec);

/* Copies a value into the arena (typename and bytes). */
sf_status sf_value_copy(sf_arena *arena, const sf_value *in, sf_value *out);

/* A wire TypedValue in the arena for a value. */
pb_typed_value *sf_typed_value_to_pb(sf_arena *arena, const sf_value *value);

/* An arena wire Address for "ns/name" + id. */
pb_address *sf_address_to_pb(sf_arena *arena, const char *typename,
                             const char *id, sf_status *status);

#endif /* SF_INTERNAL_H */
