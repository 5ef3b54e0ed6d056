/*
 * modgen.h - sf-modgen's model of a StateFun deployment and the steps that
 * fill it, check it and print it as a module.yaml.
 *
 * The flow is: the command line (cli.c) and an optional JSON config file
 * (config_file.c) both add to one sfm_app; model.c checks the whole app
 * (cross-references: every ingress target served by an endpoint, options
 * that need other options) and emit.c prints the module.yaml. Every string
 * in an sfm_app is malloc'd and owned by it; sfm_app_free frees them all.
 *
 * Every item remembers where it came from (`where`: "--ingress-topic" or
 * "app.json:12:9") so a problem found late still points at its source.
 */
#ifndef SF_MODGEN_H
#define SF_MODGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define SFM_DEFAULT_VALUE_TYPE "io.statefun.types/string"
#define SFM_DEFAULT_CONSUMER_GROUP "statefun"
#define SFM_DEFAULT_STARTUP "latest"
#define SFM_DEFAULT_MAX_BATCH 1000L
#define SFM_DEFAULT_CALL "2m"
#define SFM_DEFAULT_CONNECT "20s"
#define SFM_DEFAULT_TXN_TIMEOUT "15min"

/* Exit statuses. */
enum { SFM_EXIT_OK = 0, SFM_EXIT_IO = 1, SFM_EXIT_USAGE = 2 };

/* A function type served by the endpoint: "ns/name" or "ns/" "*". */
typedef struct sfm_function {
  char *pattern;
  char *where;
  bool from_ir; /* an entity of an --ir file (not fed by shared topics) */
} sfm_function;

/* One ingress target of a topic. */
typedef struct sfm_target {
  char *type;  /* "ns/name" */
  char *where;
} sfm_target;

/* A Kafka topic routed to function types. value_type NULL = the default. */
typedef struct sfm_topic {
  char *topic;
  char *value_type;
  char *where;       /* where the topic (or its value type) was given */
  bool all_functions;/* shared topic: targets = every --function */
  sfm_target *targets;
  size_t n_targets;
} sfm_topic;

typedef enum sfm_delivery {
  SFM_DELIVERY_UNSET,
  SFM_AT_LEAST_ONCE,
  SFM_EXACTLY_ONCE,
  SFM_NONE
} sfm_delivery;

typedef struct sfm_egress {
  char *id;
  char *where;
  char **topics;          /* documentation only (a comment in the output) */
  size_t n_topics;
  sfm_delivery delivery;
  char *txn_timeout;      /* normalized duration; exactly-once only */
  char *txn_where;
  bool replies;           /* the default replies egress of an --ir namespace */
} sfm_egress;

/* A scalar setting and where it was set (NULL value = not set). */
typedef struct sfm_setting {
  char *value;
  char *where;
} sfm_setting;

typedef struct sfm_app {
  sfm_function *functions;
  size_t n_functions;

  sfm_setting endpoint;      /* --endpoint URL (one URL for every type) */
  sfm_setting url_template;  /* --url-template with {function.name} */
  sfm_setting max_batch;     /* digits */
  sfm_setting call_timeout;  /* normalized durations */
  sfm_setting connect_timeout;

  sfm_setting kafka;         /* bootstrap address */
  sfm_setting ingress_id;
  sfm_setting consumer_group;
  sfm_setting startup;       /* earliest | latest | group-offsets */
  sfm_setting value_type;    /* default valueType of the topics */

  sfm_topic *topics;
  size_t n_topics;
  sfm_egress *egresses;
  size_t n_egresses;

  /* Entities of --ir files (and "ir" in the config file): function types
   * "<namespace>/<Entity>", merged into `functions` by sfm_app_finish
   * unless already declared; their namespaces, for the replies egress. */
  sfm_function *ir_types;
  size_t n_ir_types;
  char **ir_namespaces;
  size_t n_ir_namespaces;
  sfm_setting entity_topics; /* "true": one Call topic per entity */

  char *provenance;          /* the command line, for the header comment */
} sfm_app;

void sfm_app_free(sfm_app *app);

/* ---- errors --------------------------------------------------------- */

/* Prints "sf-modgen: <where>: <message>" (or "<file:line:col>: <message>"
 * when `where` is a file position) to stderr. Returns -1. */
int sfm_error(const char *where, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- checks shared by the command line and the config file (model.c) -- */

/* Each returns 0, or -1 after printing a precise error at `where`.
 * `what` names the value in the message ("function type", "egress id"). */
int sfm_check_typename(const char *where, const char *what, const char *s);
int sfm_check_function_pattern(const char *where, const char *s, bool wildcard);
int sfm_check_topic(const char *where, const char *s);
int sfm_check_url(const char *where, const char *s, bool is_template);
int sfm_check_kafka_address(const char *where, const char *s);
int sfm_check_consumer_group(const char *where, const char *s);
int sfm_check_startup(const char *where, const char *s);
int sfm_parse_delivery(const char *where, const char *s, sfm_delivery *out);
int sfm_check_max_batch(const char *where, const char *s);
/* A Flink duration ("2m", "20s", "15min", "500 ms"; a unit is required)
 * into its normalized form "<digits><unit>" (malloc'd). Zero is refused. */
int sfm_duration(const char *where, const char *what, const char *s, char **out);

/* ---- building the app (model.c) ------------------------------------- */

int sfm_set(sfm_setting *s, const char *value, const char *where);
int sfm_add_function(sfm_app *app, const char *pattern, const char *where);
/* The topic named `topic`, created when new (value_type may be NULL). */
sfm_topic *sfm_topic_get(sfm_app *app, const char *topic, const char *where);
int sfm_topic_add_target(sfm_topic *t, const char *type, const char *where);
int sfm_topic_set_value_type(sfm_topic *t, const char *vt, const char *where);
sfm_egress *sfm_add_egress(sfm_app *app, const char *id, const char *where);
int sfm_egress_add_topic(sfm_egress *e, const char *topic);

/* Cross-checks of the whole app, fills in shared topics. 0 or -1. */
int sfm_app_finish(sfm_app *app);

/* ---- inputs ---------------------------------------------------------- */

/* cli.c: parses argv into app. Returns 0, or an exit status for --help /
 * --version (*done set) or errors (-1 printed). *out_path gets -o. */
int sfm_cli_parse(int argc, char **argv, sfm_app *app, const char **out_path,
                  bool *done);

/* config_file.c: reads a JSON config file into app. 0 or -1. */
int sfm_config_load(const char *path, sfm_app *app);

/* ir_input.c: reads an entity IR file (codegen's checker) and records its
 * entities as function types. IR errors are printed as sf-codegen prints
 * them ("file:line:col: message"). 0 or -1. */
int sfm_ir_load(sfm_app *app, const char *path);

#define SFM_CALL_TYPE "statefun.entities/Call"

/* ---- output (emit.c) ------------------------------------------------- */

/* Writes the module.yaml. Returns 0 or -1 (I/O error). */
int sfm_emit(const sfm_app *app, FILE *out);

#endif
