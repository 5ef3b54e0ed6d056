/* The calls that spare a new user boilerplate: state reads with a default,
 * the typed protobuf accessors that check the struct against the
 * descriptor, and an absent (NULL) protobuf message as the empty one. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

#define KAFKA_TN "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord"
static const sf_type rec_t = SF_TYPE_PROTO(KAFKA_TN,
    &io__statefun__sdk__egress__kafka_producer_record__descriptor);
static const sf_value_spec s_long = SF_VALUE_SPEC("l", &sf_type_long);
static const sf_value_spec s_int = SF_VALUE_SPEC("i", &sf_type_int);
static const sf_value_spec s_bool = SF_VALUE_SPEC("b", &sf_type_bool);
static const sf_value_spec s_float = SF_VALUE_SPEC("f", &sf_type_float);
static const sf_value_spec s_double = SF_VALUE_SPEC("d", &sf_type_double);
static const sf_value_spec s_string = SF_VALUE_SPEC("s", &sf_type_string);
static const sf_value_spec s_rec = SF_VALUE_SPEC("rec", &rec_t);
static const sf_value_spec *const specs[] = {&s_long, &s_int, &s_bool, &s_float,
                                             &s_double, &s_string, &s_rec};
static const char *const names[] = {"l", "i", "b", "f", "d", "s", "rec"};
/* Declared by no function: reading it is a programming error. */
static const sf_value_spec s_undeclared = SF_VALUE_SPEC("nope", &sf_type_long);

typedef sf_status (*body_fn)(sf_context *ctx, const sf_message *msg);
static sf_status trampoline(sf_context *ctx, const sf_message *msg, void *u) {
  return ((body_fn)u)(ctx, msg);
}

/* Runs `body` as t.fns/f; state "l" holds 41 when `with_long`, the others
 * are empty; the message is `arg` (a KafkaProducerRecord when non-NULL). */
static sf_status run(body_fn body, bool with_long, const void *arg, size_t arg_len,
                     tf_from **out, sf_handle_info *info) {
  sf_handler *h = sf_handler_new();
  cr_assert_eq(sf_handler_register(h, "t.fns/f", trampoline, (void *)body, specs, 7),
               SF_OK);
  tf_req *r = tf_req_new("t.fns", "f", "me");
  for (int i = 0; i < 7; i++) {
    if (i == 0 && with_long) {
      uint8_t b[9];
      size_t n = sf_encode_long(41, b);
      tf_req_state(r, "l", SF_TYPENAME_LONG, b, n);
    } else {
      tf_req_state(r, names[i], NULL, NULL, 0);
    }
  }
  if (arg)
    tf_req_invoke(r, rec_t.type_name, arg, arg_len, NULL, NULL, NULL);
  else
    tf_req_invoke_string(r, "go");
  sf_status st = tf_run(h, r, out, info);
  tf_req_free(r);
  sf_handler_free(h);
  return st;
}

/* ---- state with a default ------------------------------------------------ */

static sf_status defaults(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  cr_assert_eq(sf_state_get_long_or(ctx, &s_long, 0), 41);
  cr_assert_eq(sf_state_get_int_or(ctx, &s_int, -7), -7);
  cr_assert_eq(sf_state_get_bool_or(ctx, &s_bool, true), true);
  cr_assert_float_eq(sf_state_get_float_or(ctx, &s_float, 1.5f), 1.5f, 0);
  cr_assert_float_eq(sf_state_get_double_or(ctx, &s_double, 2.5), 2.5, 0);
  size_t n = 99;
  cr_assert_str_eq(sf_state_get_string_or(ctx, &s_string, "none", &n), "none");
  cr_assert_eq(n, 4);
  /* After a write the value, not the default; the string is terminated. */
  cr_assert_eq(sf_state_set_string(ctx, &s_string, "abc", 3), SF_OK);
  cr_assert_eq(sf_state_set_int(ctx, &s_int, 5), SF_OK);
  cr_assert_str_eq(sf_state_get_string_or(ctx, &s_string, "none", &n), "abc");
  cr_assert_eq(n, 3);
  cr_assert_eq(sf_state_get_int_or(ctx, &s_int, -7), 5);
  return sf_state_set_long(ctx, &s_long, sf_state_get_long_or(ctx, &s_long, 0) + 1);
}
Test(friction, state_get_or_gives_value_or_default) {
  tf_from *f;
  sf_handle_info info;
  cr_assert_eq(run(defaults, true, NULL, 0, &f, &info), SF_OK, "%s", info.error);
  const tf_mut *m = tf_find_mutation(f->invocation_result, "l");
  cr_assert_not_null(m);
  int64_t v;
  cr_assert_eq(sf_decode_long(m->state_value->value.data, m->state_value->value.len, &v),
               SF_OK);
  cr_assert_eq(v, 42);
  tf_from_free(f);
}

static sf_status misuse_or(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  /* An undeclared spec and a spec of another kind give the default ... */
  cr_assert_eq(sf_state_get_long_or(ctx, &s_undeclared, 3), 3);
  cr_assert_eq(sf_state_get_int_or(ctx, &s_long, 4), 4);
  return SF_OK; /* ... and still fail the batch, with the first reason */
}
Test(friction, state_get_or_misuse_fails_the_batch_with_a_reason) {
  tf_from *f = NULL;
  sf_handle_info info;
  sf_status st = run(misuse_or, true, NULL, 0, &f, &info);
  cr_assert_eq(st, SF_ERR_FUNCTION_FAILED, "%s: %s", sf_status_name(st), info.error);
  cr_assert_null(f);
  cr_assert_str_eq(info.error, "function t.fns/f (id me) failed at invocation 1 of 1: "
                               "state 'nope' is not declared by t.fns/f: add its spec "
                               "to the specs given to sf_handler_register");
}

/* ---- typed protobuf accessors -------------------------------------------- */

typedef Io__Statefun__Sdk__Egress__KafkaProducerRecord kafka_rec;
typedef Io__Statefun__Sdk__Egress__KinesisEgressRecord kinesis_rec;

static sf_status typed_proto(sf_context *ctx, const sf_message *msg) {
  kafka_rec *rec = NULL;
  cr_assert_eq(SF_MESSAGE_AS_PROTO(ctx, msg, &rec_t, &rec), SF_OK);
  cr_assert_str_eq(rec->topic, "t1");
  /* The struct of another message is refused and not written through. */
  kinesis_rec *wrong = NULL;
  cr_assert_eq(SF_MESSAGE_AS_PROTO(ctx, msg, &rec_t, &wrong), SF_ERR_TYPE_MISMATCH);
  cr_assert_null(wrong);
  cr_assert_eq(SF_STATE_GET_PROTO(ctx, &s_rec, &wrong), SF_ERR_TYPE_MISMATCH);
  cr_assert_eq(SF_STATE_GET_PROTO(ctx, &s_long, &rec), SF_ERR_TYPE_MISMATCH);
  cr_assert_eq(SF_STATE_GET_PROTO(ctx, &s_rec, &rec), SF_ERR_NO_VALUE);
  cr_assert_eq(sf_state_set_proto(ctx, &s_rec, msg ? &rec->base : NULL), SF_OK);
  kafka_rec *back = NULL;
  cr_assert_eq(SF_STATE_GET_PROTO(ctx, &s_rec, &back), SF_OK);
  cr_assert_str_eq(back->topic, "t1");
  return SF_OK;
}
Test(friction, typed_proto_accessors_check_the_struct) {
  kafka_rec in = IO__STATEFUN__SDK__EGRESS__KAFKA_PRODUCER_RECORD__INIT;
  in.topic = "t1";
  uint8_t buf[64];
  size_t n = protobuf_c_message_pack(&in.base, buf);
  tf_from *f;
  sf_handle_info info;
  cr_assert_eq(run(typed_proto, false, buf, n, &f, &info), SF_OK, "%s", info.error);
  tf_from_free(f);
}

/* ---- an absent protobuf message is the empty message --------------------- */

static sf_status null_proto(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  cr_assert_eq(sf_state_set_proto(ctx, &s_rec, NULL), SF_OK);
  kafka_rec *back = NULL;
  cr_assert_eq(SF_STATE_GET_PROTO(ctx, &s_rec, &back), SF_OK);
  cr_assert_str_eq(back->topic, ""); /* the default of an empty message */
  return sf_send(ctx, "a/b", "c", sf_value_proto(ctx, &rec_t, NULL));
}
Test(friction, null_proto_is_the_empty_message) {
  tf_from *f;
  sf_handle_info info;
  cr_assert_eq(run(null_proto, false, NULL, 0, &f, &info), SF_OK, "%s", info.error);
  const tf_mut *m = tf_find_mutation(f->invocation_result, "rec");
  cr_assert_not_null(m);
  cr_assert_str_eq(m->state_value->typename_, rec_t.type_name);
  cr_assert_eq(m->state_value->value.len, 0);
  cr_assert_eq(f->invocation_result->n_outgoing_messages, 1);
  cr_assert_str_eq(f->invocation_result->outgoing_messages[0]->argument->typename_,
                   rec_t.type_name);
  tf_from_free(f);
}

static sf_status wrong_descriptor_value(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  kinesis_rec k = IO__STATEFUN__SDK__EGRESS__KINESIS_EGRESS_RECORD__INIT;
  return sf_send(ctx, "a/b", "c", sf_value_proto(ctx, &rec_t, &k.base));
}
Test(friction, proto_value_of_another_descriptor_is_refused) {
  tf_from *f = NULL;
  sf_handle_info info;
  sf_status st = run(wrong_descriptor_value, false, NULL, 0, &f, &info);
  cr_assert_eq(st, SF_ERR_FUNCTION_FAILED, "%s: %s", sf_status_name(st), info.error);
  cr_assert_null(f);
  cr_assert_str_eq(info.error,
                   "function t.fns/f (id me) failed at invocation 1 of 1: "
                   "sf_value_proto: type " KAFKA_TN " is a "
                   "io.statefun.sdk.egress.KafkaProducerRecord, given a "
                   "io.statefun.sdk.egress.KinesisEgressRecord: pass a "
                   "io.statefun.sdk.egress.KafkaProducerRecord, or declare a type "
                   "with the descriptor of io.statefun.sdk.egress.KinesisEgressRecord");
}

/* ---- Kafka records of typed values; typenames and addresses -------------- */

static sf_status kafka_typed(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  const char key[] = {'k', '\0', '1'}; /* bytes, not a C string */
  cr_assert_eq(sf_egress_kafka_value(ctx, "e.ns/kafka", "t", key, 3,
                                     sf_value_int(ctx, 7)), SF_OK);
  return SF_OK;
}
Test(friction, kafka_record_of_a_typed_value_with_a_key_of_bytes) {
  tf_from *f;
  sf_handle_info info;
  cr_assert_eq(run(kafka_typed, false, NULL, 0, &f, &info), SF_OK, "%s", info.error);
  cr_assert_eq(f->invocation_result->n_outgoing_egresses, 1);
  const Io__Statefun__Sdk__Reqreply__TypedValue *tv =
      f->invocation_result->outgoing_egresses[0]->argument;
  cr_assert_str_eq(tv->typename_, SF_TYPENAME_KAFKA_RECORD);
  kafka_rec *rec = io__statefun__sdk__egress__kafka_producer_record__unpack(
      NULL, tv->value.len, tv->value.data);
  cr_assert_not_null(rec);
  cr_assert_str_eq(rec->topic, "t");
  cr_assert_eq(memcmp(rec->key, "k\0" "1", 3), 0);
  int32_t v;
  cr_assert_eq(sf_decode_int(rec->value_bytes.data, rec->value_bytes.len, &v), SF_OK);
  cr_assert_eq(v, 7);
  io__statefun__sdk__egress__kafka_producer_record__free_unpacked(rec, NULL);
  tf_from_free(f);
}

static sf_status kafka_binary_key(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  const uint8_t key[] = {0xff, 0x00};
  return sf_egress_kafka_value(ctx, "e.ns/kafka", "t", key, 2, sf_value_int(ctx, 7));
}
Test(friction, kafka_key_that_is_not_utf8_is_refused_with_the_fix) {
  tf_from *f = NULL;
  sf_handle_info info;
  cr_assert_eq(run(kafka_binary_key, false, NULL, 0, &f, &info), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(info.error,
                   "function t.fns/f (id me) failed at invocation 1 of 1: "
                   "sf_egress_kafka: the key to topic 't' is not UTF-8 (StateFun's "
                   "Kafka egress carries keys as strings): encode a binary key, e.g. as hex");
}

Test(friction, typename_split_and_address_is) {
  size_t ns_len = 0;
  const char *name = NULL;
  cr_assert_eq(sf_typename_split("type.googleapis.com/a.B", &ns_len, &name), SF_OK);
  cr_assert_eq(ns_len, strlen("type.googleapis.com"));
  cr_assert_str_eq(name, "a.B");
  cr_assert_eq(sf_typename_split("a/b/c", &ns_len, &name), SF_OK); /* last '/' */
  cr_assert_eq(ns_len, 3);
  cr_assert_str_eq(name, "c");
  cr_assert_eq(sf_typename_split("nons", NULL, NULL), SF_ERR_BAD_TYPENAME);
  cr_assert_eq(sf_typename_split("/x", NULL, NULL), SF_ERR_BAD_TYPENAME);
  cr_assert_eq(sf_typename_split("x/", NULL, NULL), SF_ERR_BAD_TYPENAME);
  cr_assert_eq(sf_typename_split(NULL, NULL, NULL), SF_ERR_BAD_TYPENAME);
  sf_address a = {"shop", "cart", "u1"};
  cr_assert(sf_address_is(&a, "shop/cart", NULL));
  cr_assert(sf_address_is(&a, "shop/cart", "u1"));
  cr_assert_not(sf_address_is(&a, "shop/cart", "u2"));
  cr_assert_not(sf_address_is(&a, "shop/car", NULL));
  cr_assert_not(sf_address_is(&a, "sho/cart", NULL));
  cr_assert_not(sf_address_is(&a, "shopx/cart", NULL));
  cr_assert_not(sf_address_is(&a, "cart", NULL));
  cr_assert_not(sf_address_is(NULL, "shop/cart", NULL));
}

/* ---- custom types: the user's own codec ---------------------------------- */

typedef struct point {
  int x, y;
} point;

/* "x,y" in decimal; a negative x cannot be encoded (to test the failure). */
static sf_status point_enc(sf_arena *a, const void *obj, const uint8_t **data,
                           size_t *len, void *u) {
  (void)u;
  const point *p = obj;
  if (p->x < 0) return SF_ERR_ENCODE;
  char *buf = sf_arena_alloc(a, 32);
  if (!buf) return SF_ERR_NOMEM;
  *len = (size_t)snprintf(buf, 32, "%d,%d", p->x, p->y);
  *data = (const uint8_t *)buf;
  return SF_OK;
}
static sf_status point_dec(sf_arena *a, const uint8_t *data, size_t len, void *out,
                           void *u) {
  (void)u;
  char *s = sf_arena_strndup(a, (const char *)data, len);
  point *p = out;
  if (!s || sscanf(s, "%d,%d", &p->x, &p->y) != 2) return SF_ERR_VALUE_DECODE;
  return SF_OK;
}
static const sf_codec point_codec = {point_enc, point_dec, NULL};
static const sf_type point_t = SF_TYPE_CUSTOM("geo/Point", &point_codec);
static const sf_value_spec s_point = SF_VALUE_SPEC("where", &point_t);
static const sf_value_spec *const point_specs[] = {&s_point};

/* Moves the stored point by the message's point; sends the new one on, and
 * fails to encode a point with a negative x. */
static sf_status move(sf_context *ctx, const sf_message *msg, void *u) {
  (void)u;
  point by, at = {0, 0};
  sf_status st = sf_message_as_custom(ctx, msg, &point_t, &by);
  if (st != SF_OK) return sf_context_fail(ctx, "bad point: %s", sf_strerror(st));
  st = sf_state_get_custom(ctx, &s_point, &at);
  if (st != SF_OK && st != SF_ERR_NO_VALUE) return st;
  at.x += by.x;
  at.y += by.y;
  st = sf_state_set_custom(ctx, &s_point, &at);
  if (st != SF_OK) return st;
  return sf_send(ctx, "geo/log", "l", sf_value_custom(ctx, &point_t, &at));
}

static sf_status run_point(const char *arg, const char *stored, tf_from **f,
                           sf_handle_info *info) {
  sf_handler *h = sf_handler_new();
  cr_assert_eq(sf_handler_register(h, "geo/mover", move, NULL, point_specs, 1), SF_OK);
  tf_req *r = tf_req_new("geo", "mover", "m1");
  tf_req_state(r, "where", stored ? "geo/Point" : NULL, stored, stored ? strlen(stored) : 0);
  tf_req_invoke(r, "geo/Point", arg, strlen(arg), NULL, NULL, NULL);
  sf_status st = tf_run(h, r, f, info);
  tf_req_free(r);
  sf_handler_free(h);
  return st;
}

Test(friction, custom_type_for_messages_and_state) {
  tf_from *f;
  sf_handle_info info;
  cr_assert_eq(run_point("1,2", "10,20", &f, &info), SF_OK, "%s", info.error);
  const tf_mut *m = tf_find_mutation(f->invocation_result, "where");
  cr_assert_not_null(m);
  cr_assert_str_eq(m->state_value->typename_, "geo/Point");
  cr_assert_eq(m->state_value->value.len, 5);
  cr_assert_eq(memcmp(m->state_value->value.data, "11,22", 5), 0);
  cr_assert_eq(f->invocation_result->n_outgoing_messages, 1);
  const Io__Statefun__Sdk__Reqreply__TypedValue *a =
      f->invocation_result->outgoing_messages[0]->argument;
  cr_assert_str_eq(a->typename_, "geo/Point");
  cr_assert_eq(memcmp(a->value.data, "11,22", 5), 0);
  tf_from_free(f);
}

Test(friction, custom_type_failures_name_the_type) {
  tf_from *f = NULL;
  sf_handle_info info;
  cr_assert_eq(run_point("-5,0", NULL, &f, &info), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(info.error, "function geo/mover (id m1) failed at invocation 1 of 1: "
                               "sf_value_custom: the encoder of geo/Point failed "
                               "(SF_ERR_ENCODE): fix the encoder of its sf_codec, or "
                               "the object given to it");
  cr_assert_eq(run_point("nope", NULL, &f, &info), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(info.error, "function geo/mover (id m1) failed at invocation 1 of 1: "
                               "bad point: value bytes do not decode as their type");
}

Test(friction, custom_type_without_a_codec_is_refused_at_registration) {
  static const sf_codec half = {point_enc, NULL, NULL};
  static const sf_type bad_t = SF_TYPE_CUSTOM("geo/Bad", &half);
  static const sf_value_spec s_bad = SF_VALUE_SPEC("bad", &bad_t);
  static const sf_value_spec *const bad_specs[] = {&s_bad};
  sf_handler *h = sf_handler_new();
  cr_assert_eq(sf_handler_register(h, "geo/x", move, NULL, bad_specs, 1),
               SF_ERR_INVALID_ARGUMENT);
  sf_handler_free(h);
}

/* ---- the reasons a batch fails name the function, id, state and fix ------ */

static sf_status read_as_other_type(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  int32_t v;
  return sf_state_get_int(ctx, &s_long, &v);
}
static sf_status set_other_type(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  return sf_state_set(ctx, &s_long, sf_value_int(ctx, 1));
}
static sf_status stored_other_type(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  bool b;
  return sf_state_get_bool(ctx, &s_bool, &b);
}
Test(friction, state_type_failures_say_the_fix) {
  tf_from *f = NULL;
  sf_handle_info info;
  cr_assert_eq(run(read_as_other_type, true, NULL, 0, &f, &info), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(info.error, "function t.fns/f (id me) failed at invocation 1 of 1: "
                               "state 'l' is io.statefun.types/long, read as another "
                               "type: read it with the sf_state_get_* of its type");
  cr_assert_eq(run(set_other_type, true, NULL, 0, &f, &info), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(info.error, "function t.fns/f (id me) failed at invocation 1 of 1: "
                               "state 'l' is io.statefun.types/long, not "
                               "io.statefun.types/int: set a value of the spec's type");
  /* Flink holds a value of another type for "b" (a spec changed its type). */
  sf_handler *h = sf_handler_new();
  cr_assert_eq(sf_handler_register(h, "t.fns/f", trampoline, (void *)stored_other_type,
                                   specs, 7), SF_OK);
  tf_req *r = tf_req_new("t.fns", "f", "me");
  for (int i = 0; i < 7; i++) {
    if (i == 2) {
      uint8_t b[5];
      size_t n = sf_encode_int(3, b);
      tf_req_state(r, "b", SF_TYPENAME_INT, b, n);
    } else {
      tf_req_state(r, names[i], NULL, NULL, 0);
    }
  }
  tf_req_invoke_string(r, "go");
  cr_assert_eq(tf_run(h, r, &f, &info), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(info.error, "function t.fns/f (id me) failed at invocation 1 of 1: "
                               "state 'b' is declared io.statefun.types/bool but Flink "
                               "holds a io.statefun.types/int: clear it, or declare the "
                               "spec with the stored type");
  tf_req_free(r);
  sf_handler_free(h);
}

/* The function's own reason wins over the one the SDK recorded for a call
 * whose status it handled; the first of its own reasons is kept. */
static sf_status own_reason(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  int32_t v;
  sf_status st = sf_state_get_int(ctx, &s_long, &v);
  sf_context_fail(ctx, "reading l: %s", sf_strerror(st));
  return sf_context_fail(ctx, "a later reason");
}
Test(friction, the_functions_own_reason_is_reported) {
  tf_from *f = NULL;
  sf_handle_info info;
  cr_assert_eq(run(own_reason, true, NULL, 0, &f, &info), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(info.error, "function t.fns/f (id me) failed at invocation 1 of 1: "
                               "reading l: type mismatch");
}
