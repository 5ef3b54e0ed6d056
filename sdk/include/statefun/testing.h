/*
 * testing.h - a test harness for your StateFun functions: call a function
 * registered on a sf_handler in-process, with the state and messages you
 * choose, and inspect what it did. No HTTP, no runtime, no cluster.
 *
 * sf_test_run() does what the runtime would: it builds a real ToFunction
 * batch (one invocation per message sent in, the state you set), hands it
 * to sf_handler_handle(), and decodes the FromFunction it answers. So a
 * test exercises exactly the code the function server runs in production.
 *
 *   sf_test *t = sf_test_new(handler, "greeter.fns/greet", "Alice");
 *   sf_test_set_state_int(t, "seen", 2);
 *   sf_test_send_string(t, "Alice");
 *   if (sf_test_run(t) != SF_OK) puts(sf_test_error(t));
 *   int32_t seen;
 *   sf_test_state_int(t, "seen", &seen);                     // 3
 *   const sf_message *m = sf_test_sent(t, 0);                // to whom, what
 *   sf_test_egress_kafka(t, 0, &record);                     // topic, key, value
 *
 * State carries over: after a run the harness holds the state as the
 * runtime would (mutations applied), and the next sf_test_send_* + run is
 * the next batch. Missing state: a function whose specs the test did not
 * set answers "incomplete"; by default the harness then registers the
 * missing specs empty and re-runs the same batch, like the runtime
 * (sf_test_rounds() says 2); sf_test_set_auto_register(t, false) stops
 * after the first answer so a test can inspect sf_test_missing_*().
 *
 * Memory: a sf_test owns copies of everything given to it; everything it
 * hands out (strings, values, messages, records) is owned by the sf_test
 * and valid until the next sf_test_run() or sf_test_free(), unless said
 * otherwise beside the declaration. The handler must outlive the sf_test.
 *
 * Threads: a sf_test is used by one thread at a time; several tests may
 * share one handler (see statefun.h).
 */
#ifndef STATEFUN_TESTING_H
#define STATEFUN_TESTING_H

#include <statefun/statefun.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One function instance under test, its state and the last run's result. */
typedef struct sf_test sf_test;

/* A test of the function `function_type` ("ns/name", registered on
 * `handler`) at id `id`. Copies both strings. NULL when out of memory or
 * an argument is NULL or not a valid typename; an unregistered type is
 * reported by sf_test_run (SF_ERR_UNKNOWN_FUNCTION), as the server would. */
SF_API sf_test *sf_test_new(const sf_handler *handler,
                            const char *function_type, const char *id);
/* Frees the test and everything it handed out. NULL is fine. */
SF_API void sf_test_free(sf_test *t);

/* ---- state in ----------------------------------------------------------- */

/*
 * Sets the state `name` the next run sends (replacing an earlier value).
 * The raw form takes a typename and bytes (copied); the typed forms
 * encode like the SDK (sf_value_*). JSON is given as text (copied as is),
 * protobuf as a protobuf-c message (packed). Errors: SF_ERR_INVALID_ARGUMENT
 * (NULL, bad state name or typename), SF_ERR_NOMEM.
 */
SF_API sf_status sf_test_set_state(sf_test *t, const char *name,
                                   const char *type_name, const void *data,
                                   size_t len);
SF_API sf_status sf_test_set_state_bool(sf_test *t, const char *name, bool v);
SF_API sf_status sf_test_set_state_int(sf_test *t, const char *name, int32_t v);
SF_API sf_status sf_test_set_state_long(sf_test *t, const char *name, int64_t v);
SF_API sf_status sf_test_set_state_float(sf_test *t, const char *name, float v);
SF_API sf_status sf_test_set_state_double(sf_test *t, const char *name, double v);
/* A NUL-terminated string. */
SF_API sf_status sf_test_set_state_string(sf_test *t, const char *name,
                                          const char *s);
SF_API sf_status sf_test_set_state_json(sf_test *t, const char *name,
                                        const sf_type *type,
                                        const char *json_text);
SF_API sf_status sf_test_set_state_proto(sf_test *t, const char *name,
                                         const sf_type *type,
                                         const struct ProtobufCMessage *msg);
/* Registers `name` without a value (what the runtime sends for a state
 * that was never written). */
SF_API sf_status sf_test_set_state_empty(sf_test *t, const char *name);

/* ---- messages in -------------------------------------------------------- */

/*
 * Sets the caller of the messages sent in after this call: a function
 * type "ns/name" and id (copied), or NULL/NULL for an ingress (the
 * default). SF_ERR_INVALID_ARGUMENT for a bad typename.
 */
SF_API sf_status sf_test_set_caller(sf_test *t, const char *caller_type,
                                    const char *caller_id);

/*
 * Queues a message for the next run (one invocation each, in order).
 * Values are copied/encoded at once. The raw form takes any typename.
 */
SF_API sf_status sf_test_send(sf_test *t, const char *type_name,
                              const void *data, size_t len);
SF_API sf_status sf_test_send_bool(sf_test *t, bool v);
SF_API sf_status sf_test_send_int(sf_test *t, int32_t v);
SF_API sf_status sf_test_send_long(sf_test *t, int64_t v);
SF_API sf_status sf_test_send_float(sf_test *t, float v);
SF_API sf_status sf_test_send_double(sf_test *t, double v);
/* A NUL-terminated string. */
SF_API sf_status sf_test_send_string(sf_test *t, const char *s);
SF_API sf_status sf_test_send_json(sf_test *t, const sf_type *type,
                                   const char *json_text);
SF_API sf_status sf_test_send_proto(sf_test *t, const sf_type *type,
                                    const struct ProtobufCMessage *msg);

/* ---- running ------------------------------------------------------------ */

/* Whether a run answers missing state by itself (default true). */
SF_API void sf_test_set_auto_register(sf_test *t, bool on);

/*
 * Runs the queued messages as one batch and consumes them. Returns SF_OK
 * when the function ran (or, with auto-registration off, answered that
 * state is missing: see sf_test_incomplete); otherwise the handler's
 * status (SF_ERR_FUNCTION_FAILED for a failing function,
 * SF_ERR_UNKNOWN_FUNCTION, ...) with the reason in sf_test_error. A failed
 * batch changes no state, as on the runtime. SF_ERR_NO_INVOCATION when no
 * message was queued.
 */
SF_API sf_status sf_test_run(sf_test *t);
/* The last run's failure reason ("" after a success). Owned by the test. */
SF_API const char *sf_test_error(const sf_test *t);
/* How many times the last run called the handler: 1, or 2 when it
 * registered missing state and ran the batch again. */
SF_API int sf_test_rounds(const sf_test *t);

/* ---- missing state ------------------------------------------------------ */

/* True when the last answer asked for missing state (only visible with
 * auto-registration off; otherwise the harness re-ran). */
SF_API bool sf_test_incomplete(const sf_test *t);
/* The specs the function asked for in the last run's first round (also
 * after an automatic re-run), in its declaration order. */
SF_API size_t sf_test_missing_count(const sf_test *t);
/* Spec `i`: name, typename, expiration (NULL/ignored when out of range). */
SF_API const char *sf_test_missing_name(const sf_test *t, size_t i);
SF_API const char *sf_test_missing_type(const sf_test *t, size_t i);
SF_API sf_expire_mode sf_test_missing_expire_mode(const sf_test *t, size_t i);
SF_API int64_t sf_test_missing_expire_after_ms(const sf_test *t, size_t i);

/* ---- state after -------------------------------------------------------- */

typedef enum sf_test_change {
  SF_TEST_UNKNOWN = -1,  /* the harness holds no state of that name */
  SF_TEST_UNCHANGED = 0, /* the last run did not write it */
  SF_TEST_SET = 1,       /* the last run wrote a value (MODIFY) */
  SF_TEST_CLEARED = 2,   /* the last run cleared it (DELETE) */
} sf_test_change;

/* What the last run did to state `name`. */
SF_API sf_test_change sf_test_state_change(const sf_test *t, const char *name);
/* The state's value now (typename + bytes, owned by the test, valid until
 * the next change of that state or sf_test_free). has_value false when
 * empty or cleared. SF_ERR_UNKNOWN_STATE when the harness holds no such
 * state. */
SF_API sf_status sf_test_state(const sf_test *t, const char *name,
                               sf_value *out);
/* Typed reads, with sf_message_as_*'s errors (SF_ERR_NO_VALUE,
 * SF_ERR_TYPE_MISMATCH, SF_ERR_VALUE_DECODE) plus SF_ERR_UNKNOWN_STATE.
 * A string points into the test (not NUL-terminated; `len` may be NULL).
 * JSON and protobuf values are owned by the test, valid until
 * sf_test_free (do not json_decref them), as in a function they are owned
 * by the request. */
SF_API sf_status sf_test_state_bool(const sf_test *t, const char *name, bool *out);
SF_API sf_status sf_test_state_int(const sf_test *t, const char *name, int32_t *out);
SF_API sf_status sf_test_state_long(const sf_test *t, const char *name, int64_t *out);
SF_API sf_status sf_test_state_double(const sf_test *t, const char *name,
                                      double *out);
SF_API sf_status sf_test_state_string(const sf_test *t, const char *name,
                                      const char **out, size_t *len);
SF_API sf_status sf_test_state_json(sf_test *t, const char *name,
                                    const sf_type *type, struct json_t **out);
SF_API sf_status sf_test_state_proto(sf_test *t, const char *name,
                                     const sf_type *type,
                                     struct ProtobufCMessage **out);

/* ---- messages out ------------------------------------------------------- */

/* Messages the last run sent with sf_send, in order. A sent message is a
 * sf_message (target + value), so read it with sf_message_as_int,
 * sf_message_as_string (statefun.h), sf_test_message_as_json or
 * sf_test_message_as_proto. NULL when `i` is out of range. */
SF_API size_t sf_test_sent_count(const sf_test *t);
SF_API const sf_message *sf_test_sent(const sf_test *t, size_t i);

/* A message's JSON value / protobuf message, owned by the test (valid
 * until sf_test_free; do not free it); errors as sf_message_as_json /
 * sf_message_as_proto. */
SF_API sf_status sf_test_message_as_json(sf_test *t, const sf_message *msg,
                                         const sf_type *type,
                                         struct json_t **out);
SF_API sf_status sf_test_message_as_proto(sf_test *t, const sf_message *msg,
                                          const sf_type *type,
                                          struct ProtobufCMessage **out);

/* A delayed message (sf_send_after) or a cancellation (sf_cancel_delayed),
 * in the order the function made them. */
typedef struct sf_test_delayed {
  bool cancellation;  /* true: a cancellation; only `token` is meaningful */
  const char *token;  /* "" when the message cannot be cancelled */
  int64_t delay_ms;
  sf_message message; /* target and value of a delayed message */
} sf_test_delayed;

SF_API size_t sf_test_delayed_count(const sf_test *t);
SF_API const sf_test_delayed *sf_test_delayed_at(const sf_test *t, size_t i);

/* ---- egress ------------------------------------------------------------- */

/* An egress record: the egress's typename ("ns/name") and its value. */
typedef struct sf_test_egress {
  const char *egress_type;
  sf_value value;
} sf_test_egress;

SF_API size_t sf_test_egress_count(const sf_test *t);
SF_API const sf_test_egress *sf_test_egress_at(const sf_test *t, size_t i);

/* A Kafka record (sf_egress_kafka) read back. key is NULL with key_len 0
 * for a record without a key. Pointers owned by the test. */
typedef struct sf_test_kafka_record {
  const char *topic;
  const uint8_t *key;
  size_t key_len;
  const uint8_t *value;
  size_t value_len;
} sf_test_kafka_record;

/* A Kinesis record (sf_egress_kinesis) read back; explicit_hash_key is ""
 * when none was given. */
typedef struct sf_test_kinesis_record {
  const char *stream;
  const char *partition_key;
  const char *explicit_hash_key;
  const uint8_t *value;
  size_t value_len;
} sf_test_kinesis_record;

/* Egress record `i` decoded as a Kafka / Kinesis record: SF_ERR_TYPE_MISMATCH
 * when it is not one, SF_ERR_VALUE_DECODE on bad bytes,
 * SF_ERR_INVALID_ARGUMENT when `i` is out of range. */
SF_API sf_status sf_test_egress_kafka(sf_test *t, size_t i,
                                      sf_test_kafka_record *out);
SF_API sf_status sf_test_egress_kinesis(sf_test *t, size_t i,
                                        sf_test_kinesis_record *out);


/* ------------------------------------------------------------------------ */
/* Entities: a multi-entity scenario stepped in memory                      */
/* ------------------------------------------------------------------------ */

/*
 * A scenario plays StateFun for the entities registered on a handler
 * (sf-codegen's <base>_register, docs/entities.md): it keeps every
 * address's state (one sf_test per address, so each delivery is a real
 * batch through sf_handler_handle with the missing-state round trip), and
 * delivers messages from one FIFO queue, one per step, so a scenario runs
 * the same way every time. Calls, Replies, awaits, parallel awaits and the
 * isolation queue are the SDK's own; the scenario only routes:
 *   - a message a function sends goes to the end of the queue;
 *   - a delayed message too, at once (time does not pass in a scenario);
 *     cancellations are recorded in the trace only;
 *   - the Reply of an external call (sf_scenario_call) is kept by its
 *     request id (sf_scenario_reply);
 *   - other egress records are counted in the trace.
 *
 *   sf_scenario *sc = sf_scenario_new(handler);
 *   sf_scenario_call(sc, "shop/User", "u1", "checkout", args, n, "r1");
 *   sf_scenario_fail_next(sc, "shop/Item", "apple", "reserve", "sold out");
 *   sf_scenario_run(sc, 1000);
 *   sf_scenario_reply(sc, "r1", &reply);   // reply.ok, .result, .error
 *   sf_scenario_print_trace(sc, stderr);
 *
 * Args and results are the generated records' bytes: encode args with the
 * generated <Entity>_<method>_args_encode into a sf_wbuf, decode a result
 * with sf_scenario_result_int64 or the generated decoders (field 1).
 *
 * Memory: everything handed out is owned by the scenario and valid until
 * sf_scenario_free. The handler must outlive it.
 */
typedef struct sf_scenario sf_scenario;

/* NULL when out of memory or `handler` is NULL. */
SF_API sf_scenario *sf_scenario_new(const sf_handler *handler);
SF_API void sf_scenario_free(sf_scenario *sc);

/* Queues an external call of `method` on the entity `entity_type`
 * ("ns/Name") with key `key`: a Call envelope with the args bytes (copied)
 * whose Reply is kept under `request_id` (non-empty, unique per
 * scenario). Nothing runs until sf_scenario_step/_run. */
SF_API sf_status sf_scenario_call(sf_scenario *sc, const char *entity_type,
                                  const char *key, const char *method,
                                  const void *args, size_t args_len,
                                  const char *request_id);

/* The egress (and topic "replies") the Reply of a sf_scenario_call goes
 * to. A Reply record a function sends there itself (a Kafka record keyed
 * by its request id) is kept like one: sf_scenario_reply_of finds it. */
#define SF_SCENARIO_REPLY_EGRESS "sf.testing/replies"

/* Queues a message of any typename to an instance, from an ingress (no
 * caller): a plain message, or a Call envelope made by hand (one without a
 * call id, say). `value` is copied. */
SF_API sf_status sf_scenario_send(sf_scenario *sc, const char *type,
                                  const char *key, sf_value value);

/*
 * A generated method called by name with its arguments as designated
 * initializers of the generated <Entity>_<method>_args, encoded with the
 * generated encoder (GNU C, like <statefun/entity.h>); the entity type
 * comes from the generated descriptor <Entity>_entity. E.g.
 *   SF_SCENARIO_CALL(sc, Item, reserve, "apple", "r1", .qty = 1);
 *   SF_SCENARIO_CALL(sc, User, checkout, "u1", "r2");
 * Evaluates to sf_scenario_call's status (SF_ERR_NOMEM when encoding ran
 * out of memory).
 */
#define SF_SCENARIO_CALL(sc, Entity, method, key, request_id, ...)            \
  __extension__({                                                             \
    Entity##_##method##_args sf_args_ = {__VA_ARGS__};                        \
    sf_wbuf sf_w_;                                                            \
    sf_wbuf_init(&sf_w_, sf_scenario_arena(sc));                              \
    Entity##_##method##_args_encode(&sf_w_, &sf_args_);                       \
    sf_w_.failed ? SF_ERR_NOMEM                                               \
                 : sf_scenario_call((sc), Entity##_entity.type_name, (key),   \
                                    #method, sf_w_.data, sf_w_.len,           \
                                    (request_id));                            \
  })

/* Scratch memory freed with the scenario (SF_SCENARIO_CALL's args). */
SF_API sf_arena *sf_scenario_arena(sf_scenario *sc);

/* The next Call of `method` to that entity instance is not delivered: the
 * scenario answers it with a failed Reply carrying `reason`, as if the
 * callee's method had failed (its caller sees the error at its await).
 * Rules are kept in order and each fires once. */
SF_API sf_status sf_scenario_fail_next(sf_scenario *sc, const char *entity_type,
                                       const char *key, const char *method,
                                       const char *reason);

/* Delivers the message at the head of the queue. SF_OK after a delivery,
 * SF_ERR_NO_VALUE when the queue is empty, or the failing batch's status
 * (reason in sf_scenario_error; the message is dropped, where the runtime
 * would retry it). */
SF_API sf_status sf_scenario_step(sf_scenario *sc);
/* Steps until the queue is empty: SF_OK, a step's error, or
 * SF_ERR_TOO_LARGE after `max_steps` deliveries with messages left. */
SF_API sf_status sf_scenario_run(sf_scenario *sc, size_t max_steps);
SF_API const char *sf_scenario_error(const sf_scenario *sc);
/* Messages waiting in the queue. */
SF_API size_t sf_scenario_queued(const sf_scenario *sc);

/* The Reply of an external call. */
typedef struct sf_scenario_reply {
  bool ok;
  const uint8_t *result; /* the Result record's bytes when ok */
  size_t result_len;
  const char *error;     /* the reason when !ok */
} sf_scenario_reply;

/* SF_OK and the reply when it has arrived; SF_ERR_NO_VALUE before. */
SF_API sf_status sf_scenario_reply_of(const sf_scenario *sc,
                                      const char *request_id,
                                      sf_scenario_reply *out);
/* A reply's result as an int64 (field 1, sint64; 0 when absent), the
 * Result record of a method returning int64/int32. */
SF_API sf_status sf_scenario_result_int64(const sf_scenario_reply *reply,
                                          int64_t *out);

/* The value of state `state_name` of the instance (function type + key),
 * as sf_test_state; SF_ERR_UNKNOWN_STATE when that instance never ran or
 * has no such state. Generated state fields are one state each
 * (docs/entities.md). */
SF_API sf_status sf_scenario_state(const sf_scenario *sc, const char *type,
                                   const char *key, const char *state_name,
                                   sf_value *out);

/* One delivery, for assertions and for reading a failing test. */
typedef struct sf_scenario_event {
  size_t step;           /* 1, 2, ... */
  const char *type;      /* the instance that ran: "ns/Name" and key */
  const char *key;
  const char *what;      /* "call", "reply", "message", "injected failure" */
  const char *method;    /* a call's method ("" otherwise) */
  const char *call_id;   /* a call's or reply's call id ("" otherwise) */
  bool failed;           /* the batch failed, or the injected failure */
  size_t sent;           /* messages it sent (calls and replies) */
  size_t awaiting;       /* its suspended method instances after the step */
  size_t isolation_queue;/* calls waiting for its isolation after the step */
  const char *line;      /* all of the above as one line */
} sf_scenario_event;

SF_API size_t sf_scenario_trace_count(const sf_scenario *sc);
SF_API const sf_scenario_event *sf_scenario_trace_at(const sf_scenario *sc,
                                                     size_t i);
/* Writes the trace, one line per step, to `out` (a FILE *). */
SF_API void sf_scenario_print_trace(const sf_scenario *sc, void *out);

#ifdef __cplusplus
}
#endif

#endif /* STATEFUN_TESTING_H */
