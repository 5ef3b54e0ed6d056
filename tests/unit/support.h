/*
 * support.h - building ToFunction requests and reading FromFunction replies
 * in tests, with the protobuf-c generated code (what the runtime would do).
 */
#ifndef SF_TEST_SUPPORT_H
#define SF_TEST_SUPPORT_H

#include <statefun/statefun.h>

#include "kafka_egress.pb-c.h"
#include "kinesis_egress.pb-c.h"
#include "request_reply.pb-c.h"

typedef Io__Statefun__Sdk__Reqreply__FromFunction tf_from;
typedef Io__Statefun__Sdk__Reqreply__FromFunction__InvocationResponse tf_resp;
typedef Io__Statefun__Sdk__Reqreply__FromFunction__PersistedValueMutation tf_mut;

/* A request under construction (malloc'd; tf_req_free frees it). */
typedef struct tf_req tf_req;

tf_req *tf_req_new(const char *ns, const char *type, const char *id);
/* Adds a state with a value (typename + bytes), or without one
 * (typename NULL: state_value unset). */
void tf_req_state(tf_req *r, const char *name, const char *typename,
                  const void *data, size_t len);
/* Adds an invocation (data NULL: an argument with no value); caller may
 * be NULL (ingress). */
void tf_req_invoke(tf_req *r, const char *typename, const void *data,
                   size_t len, const char *caller_ns, const char *caller_type,
                   const char *caller_id);
/* Adds an invocation whose argument is a string (StringWrapper). */
void tf_req_invoke_string(tf_req *r, const char *s);
void tf_req_invoke_int(tf_req *r, int32_t v);
/* Serializes; the buffer is malloc'd (caller frees). */
uint8_t *tf_req_pack(tf_req *r, size_t *len);
void tf_req_free(tf_req *r);

/* Decodes a reply (NULL if malformed); free with tf_from_free. */
tf_from *tf_from_decode(const uint8_t *buf, size_t len);
void tf_from_free(tf_from *f);
/* The mutation of `name` in a result, or NULL. */
const tf_mut *tf_find_mutation(const tf_resp *r, const char *name);

/* Runs one request through a handler with a fresh arena; returns the status
 * and the decoded reply (NULL on failure) and fills info. */
sf_status tf_run(const sf_handler *h, tf_req *req, tf_from **out,
                 sf_handle_info *info);

#endif
