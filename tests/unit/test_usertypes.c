/* User types: JSON through jansson, protobuf-c messages, raw bytes. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "support.h"

static const sf_type user_t = SF_TYPE_JSON("com.example/User");
static const sf_type rec_t = SF_TYPE_PROTO(
    "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord",
    &io__statefun__sdk__egress__kafka_producer_record__descriptor);
static const sf_value_spec user_spec = SF_VALUE_SPEC("user", &user_t);
static const sf_value_spec rec_spec = SF_VALUE_SPEC("rec", &rec_t);
static const sf_value_spec *const specs[] = {&user_spec, &rec_spec};

/* Message is a JSON user {"name":..., "visits":n}; stores it with visits+1;
 * stores a proto record whose topic is the name. */
static sf_status fn(sf_context *ctx, const sf_message *msg, void *u) {
  (void)u;
  json_t *j;
  sf_status st = sf_message_as_json(ctx, msg, &user_t, &j);
  if (st != SF_OK) return sf_context_fail(ctx, "bad json: %s", sf_strerror(st));
  json_int_t visits = json_integer_value(json_object_get(j, "visits"));
  json_t *prev;
  if (sf_state_get_json(ctx, &user_spec, &prev) == SF_OK) {
    visits += json_integer_value(json_object_get(prev, "visits"));
  }
  json_object_set_new(j, "visits", json_integer(visits + 1));
  st = sf_state_set_json(ctx, &user_spec, j);
  Io__Statefun__Sdk__Egress__KafkaProducerRecord rec =
      IO__STATEFUN__SDK__EGRESS__KAFKA_PRODUCER_RECORD__INIT;
  rec.topic = (char *)json_string_value(json_object_get(j, "name"));
  if (st == SF_OK) st = sf_state_set_proto(ctx, &rec_spec, &rec.base);
  if (st == SF_OK) {
    ProtobufCMessage *back;
    st = sf_state_get_proto(ctx, &rec_spec, &back);
    cr_assert_eq(st, SF_OK);
    cr_assert_str_eq(((Io__Statefun__Sdk__Egress__KafkaProducerRecord *)back)->topic, rec.topic);
  }
  if (st == SF_OK) st = sf_send(ctx, "a/b", "c", sf_value_json(ctx, &user_t, j));
  return st; /* j and prev are the request's: never json_decref'd */
}

static tf_req *request(const char *json_text, const char *stored) {
  tf_req *r = tf_req_new("com.example", "users", "u1");
  if (stored)
    tf_req_state(r, "user", "com.example/User", stored, strlen(stored));
  else
    tf_req_state(r, "user", NULL, NULL, 0);
  tf_req_state(r, "rec", NULL, NULL, 0);
  tf_req_invoke(r, "com.example/User", json_text, strlen(json_text), NULL, NULL, NULL);
  return r;
}

Test(usertypes, json_and_proto_state) {
  sf_handler *h = sf_handler_new();
  cr_assert_eq(sf_handler_register(h, "com.example/users", fn, NULL, specs, 2), SF_OK);
  tf_req *r = request("{\"visits\": 1, \"name\": \"ann\"}", "{\"visits\":40,\"name\":\"ann\"}");
  tf_from *f;
  cr_assert_eq(tf_run(h, r, &f, NULL), SF_OK);
  const tf_mut *m = tf_find_mutation(f->invocation_result, "user");
  cr_assert_not_null(m);
  cr_assert_str_eq(m->state_value->typename_, "com.example/User");
  /* compact, sorted keys */
  const char *want = "{\"name\":\"ann\",\"visits\":42}";
  cr_assert_eq(m->state_value->value.len, strlen(want));
  cr_assert_eq(memcmp(m->state_value->value.data, want, strlen(want)), 0);
  m = tf_find_mutation(f->invocation_result, "rec");
  cr_assert_str_eq(m->state_value->typename_, rec_t.type_name);
  cr_assert_eq(f->invocation_result->n_outgoing_messages, 1);
  tf_from_free(f);
  tf_req_free(r);

  /* Invalid JSON fails the batch with a reason. */
  r = request("{not json", NULL);
  sf_handle_info info;
  cr_assert_eq(tf_run(h, r, &f, &info), SF_ERR_FUNCTION_FAILED);
  cr_assert(strstr(info.error, "bad json"), "%s", info.error);
  tf_req_free(r);
  sf_handler_free(h);
}

static sf_status proto_msg(sf_context *ctx, const sf_message *msg, void *u) {
  (void)u;
  ProtobufCMessage *m;
  sf_status st = sf_message_as_proto(ctx, msg, &rec_t, &m);
  if (st != SF_OK) return sf_context_fail(ctx, "as_proto: %s", sf_strerror(st));
  Io__Statefun__Sdk__Egress__KafkaProducerRecord *r = (void *)m;
  cr_assert_str_eq(r->topic, "t");
  /* wrong descriptor for the type is refused */
  Io__Statefun__Sdk__Egress__KinesisEgressRecord k =
      IO__STATEFUN__SDK__EGRESS__KINESIS_EGRESS_RECORD__INIT;
  sf_value v = sf_value_proto(ctx, &rec_t, &k.base);
  cr_assert_null(v.type_name);
  return SF_OK;
}

Test(usertypes, proto_message_and_descriptor_check) {
  sf_handler *h = sf_handler_new();
  cr_assert_eq(sf_handler_register(h, "p/q", proto_msg, NULL, NULL, 0), SF_OK);
  Io__Statefun__Sdk__Egress__KafkaProducerRecord rec =
      IO__STATEFUN__SDK__EGRESS__KAFKA_PRODUCER_RECORD__INIT;
  rec.topic = "t";
  uint8_t buf[16];
  size_t n = io__statefun__sdk__egress__kafka_producer_record__pack(&rec, buf);
  tf_req *r = tf_req_new("p", "q", "1");
  tf_req_invoke(r, rec_t.type_name, buf, n, NULL, NULL, NULL);
  tf_from *f;
  sf_handle_info info;
  /* the sticky error from the refused sf_value_proto fails the batch */
  cr_assert_eq(tf_run(h, r, &f, &info), SF_ERR_FUNCTION_FAILED);
  cr_assert(strstr(info.error, "sf_value_proto"), "%s", info.error);
  tf_req_free(r);
  sf_handler_free(h);
}
