/*
 * cli.c - sf-modgen's command line.
 *
 * Two passes over argv: the first handles --help/--version, finds --config
 * and -o and refuses unknown options; the config file is then read; the
 * second pass applies every other option, so the command line overrides
 * the file whatever the order of the arguments. Each value is checked where
 * it is given (model.c) and errors name the option: "sf-modgen: --delivery:
 * unknown delivery semantic 'twice'; ...".
 */
#include "modgen.h"

#include <stdlib.h>
#include <string.h>

#ifndef SFM_VERSION
#define SFM_VERSION "0.0.0"
#endif

enum opt_id {
  O_HELP, O_VERSION, O_OUTPUT, O_CONFIG, O_FUNCTION, O_FUNCTIONS, O_ENDPOINT,
  O_URL_TEMPLATE, O_MAX_BATCH, O_CALL, O_CONNECT, O_KAFKA, O_INGRESS_ID,
  O_INGRESS_TOPIC, O_VALUE_TYPE, O_CONSUMER_GROUP, O_STARTUP, O_EGRESS,
  O_EGRESS_TOPIC, O_DELIVERY, O_TXN_TIMEOUT, O_IR, O_ENTITY_TOPICS
};

static const struct opt {
  const char *name, *alias;
  enum opt_id id;
  bool has_arg;
} opts[] = {
    {"--help", "-h", O_HELP, false},
    {"--version", NULL, O_VERSION, false},
    {"--output", "-o", O_OUTPUT, true},
    {"--config", NULL, O_CONFIG, true},
    {"--function", NULL, O_FUNCTION, true},
    {"--functions", NULL, O_FUNCTIONS, true},
    {"--ir", NULL, O_IR, true},
    {"--entity-topics", NULL, O_ENTITY_TOPICS, false},
    {"--endpoint", NULL, O_ENDPOINT, true},
    {"--url-template", NULL, O_URL_TEMPLATE, true},
    {"--max-batch", NULL, O_MAX_BATCH, true},
    {"--call-timeout", NULL, O_CALL, true},
    {"--connect-timeout", NULL, O_CONNECT, true},
    {"--kafka", NULL, O_KAFKA, true},
    {"--ingress-id", NULL, O_INGRESS_ID, true},
    {"--ingress-topic", NULL, O_INGRESS_TOPIC, true},
    {"--value-type", NULL, O_VALUE_TYPE, true},
    {"--consumer-group", NULL, O_CONSUMER_GROUP, true},
    {"--startup-position", NULL, O_STARTUP, true},
    {"--egress", NULL, O_EGRESS, true},
    {"--egress-topic", NULL, O_EGRESS_TOPIC, true},
    {"--delivery", NULL, O_DELIVERY, true},
    {"--transaction-timeout", NULL, O_TXN_TIMEOUT, true},
};

static void usage(FILE *f) {
  fputs(
      "Usage: sf-modgen [OPTIONS] [-o module.yaml]\n"
      "\n"
      "Writes the StateFun 3.x module.yaml that connects the runtime to a\n"
      "function server: an io.statefun.endpoints.v2/http endpoint per function\n"
      "type (async transport), one io.statefun.kafka.v1/ingress routing Kafka\n"
      "topics to function types, and io.statefun.kafka.v1/egress documents.\n"
      "The output loads unchanged in Flink StateFun and in sf-local.\n"
      "\n"
      "Function types (at least one):\n"
      "  --function NS/NAME         a function type (repeatable)\n"
      "  --functions NS/*           every function type of a namespace\n"
      "  --config FILE.json         function types, topics and options from a\n"
      "                             JSON file (docs/deploy.md); options given\n"
      "                             on the command line override it\n"
      "  --ir FILE.json             an entity IR (docs/entity-ir.md): every\n"
      "                             entity is the function type NS/Entity\n"
      "                             (repeatable; a type also given with\n"
      "                             --function or --functions is written once)\n"
      "Entities (with --ir):\n"
      "  --entity-topics            route Kafka topic NS.Entity (valueType\n"
      "                             statefun.entities/Call) to each entity:\n"
      "                             external calls through Kafka\n"
      "  With --kafka and no egress declared, the egress NS.io/replies\n"
      "  (at-least-once) is added: external calls reply there.\n"
      "Endpoint (one of):\n"
      "  --endpoint URL             one URL serving every function type\n"
      "  --url-template TEMPLATE    a URL with {function.name}\n"
      "  --max-batch N              maxNumBatchRequests (default 1000)\n"
      "  --call-timeout DURATION    whole call incl. retries (default 2m)\n"
      "  --connect-timeout DURATION (default 20s)\n"
      "Kafka ingress:\n"
      "  --kafka HOST:PORT[,...]    bootstrap servers (needed for topics/egress)\n"
      "  --ingress-topic TOPIC=NS/NAME[,NS/NAME...]\n"
      "                             route a topic to function types (repeatable)\n"
      "  --ingress-topic TOPIC      one shared topic to every --function\n"
      "  --value-type NS/NAME       valueType of the topics (default\n"
      "                             io.statefun.types/string)\n"
      "  --ingress-id NS/NAME       (default: <namespace of the first topic's\n"
      "                             first target>/ingress)\n"
      "  --consumer-group GROUP     (default statefun)\n"
      "  --startup-position earliest|latest|group-offsets (default latest)\n"
      "Kafka egress:\n"
      "  --egress NS/NAME           the egress id the functions write to\n"
      "  --egress-topic TOPIC       topics the functions write (a comment only:\n"
      "                             the functions choose the topic)\n"
      "  --delivery exactly-once|at-least-once|none (default at-least-once)\n"
      "  --transaction-timeout DURATION  exactly-once only (default 15min)\n"
      "Output:\n"
      "  -o, --output FILE          write FILE (default: standard output)\n"
      "  -h, --help                 this text\n"
      "      --version              the version\n"
      "\n"
      "DURATION is Flink's format: a number and a unit, e.g. 500ms, 20s, 2m,\n"
      "15min, 1h. Errors are reported as 'sf-modgen: --option: message' or\n"
      "'file:line:col: message' and exit with status 2.\n"
      "\n"
      "Examples:\n"
      "  sf-modgen --functions greeter.fns/* \\\n"
      "      --url-template 'http://greeter:8000/statefun/{function.name}'\n"
      "\n"
      "  sf-modgen --function greeter.fns/greet \\\n"
      "      --url-template 'http://greeter:8000/statefun/{function.name}' \\\n"
      "      --kafka kafka:9092 --ingress-topic names=greeter.fns/greet \\\n"
      "      --startup-position earliest --consumer-group greeter \\\n"
      "      --egress greeter.io/greetings --egress-topic greetings \\\n"
      "      --delivery exactly-once --transaction-timeout 15min -o module.yaml\n"
      "\n"
      "  sf-modgen --config app.json --kafka broker:9092 -o module.yaml\n"
      "\n"
      "  sf-modgen --ir shop.ir.json --entity-topics \\\n"
      "      --url-template 'http://shop:8000/statefun/{function.name}' \\\n"
      "      --kafka kafka:9092 -o module.yaml\n",
      f);
}

static const struct opt *find_opt(const char *arg, const char **inline_val) {
  *inline_val = NULL;
  for (size_t i = 0; i < sizeof opts / sizeof *opts; i++) {
    const struct opt *o = &opts[i];
    size_t n = strlen(o->name);
    if (!strcmp(arg, o->name) || (o->alias && !strcmp(arg, o->alias)))
      return o;
    if (o->has_arg && !strncmp(arg, o->name, n) && arg[n] == '=') {
      *inline_val = arg + n + 1;
      return o;
    }
  }
  return NULL;
}

/* Appends `s` to the provenance line, quoted for a POSIX shell when
 * needed. */
static void prov_add(char **prov, size_t *len, const char *s) {
  bool plain = *s != 0;
  for (const char *p = s; *p; p++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                "0123456789._/:=,@+-%", *p))
      plain = false;
  size_t need = *len + 4 * strlen(s) + 4;
  char *b = realloc(*prov, need);
  if (!b) {
    fprintf(stderr, "sf-modgen: out of memory\n");
    exit(SFM_EXIT_IO);
  }
  *prov = b;
  char *w = b + *len;
  if (*len) *w++ = ' ';
  if (!plain) *w++ = '\'';
  for (const char *p = s; *p; p++) {
    if (*p == '\'') {
      memcpy(w, "'\\''", 4);
      w += 4;
    } else {
      *w++ = ((unsigned char)*p < 0x20 || *p == 0x7f) ? '?' : *p;
    }
  }
  if (!plain) *w++ = '\'';
  *w = 0;
  *len = (size_t)(w - b);
}

/* "TOPIC=NS/NAME,NS/NAME" or "TOPIC". */
static int ingress_topic(sfm_app *app, const char *val, const char *where) {
  const char *eq = strchr(val, '=');
  size_t tlen = eq ? (size_t)(eq - val) : strlen(val);
  char *topic = strndup(val, tlen);
  if (!topic) return sfm_error(where, "out of memory");
  int rc = sfm_check_topic(where, topic);
  sfm_topic *t = rc < 0 ? NULL : sfm_topic_get(app, topic, where);
  free(topic);
  if (!t) return -1;
  if (!eq) {
    t->all_functions = true;
    return 0;
  }
  if (!eq[1])
    return sfm_error(where, "topic '%s' without targets: expected "
                     "TOPIC=NS/NAME[,NS/NAME...]", t->topic);
  char *list = strdup(eq + 1), *save = NULL;
  if (!list) return sfm_error(where, "out of memory");
  for (const char *p = list; *p; p++)
    if (*p == ',' && (p == list || p[1] == ',' || !p[1])) {
      sfm_error(where, "empty target in '%s'", val);
      free(list);
      return -1;
    }
  for (char *tok = strtok_r(list, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    if (sfm_check_typename(where, "ingress target", tok) < 0 ||
        sfm_topic_add_target(t, tok, where) < 0) {
      free(list);
      return -1;
    }
  }
  free(list);
  return 0;
}

static int apply(sfm_app *app, enum opt_id id, const char *name,
                 const char *val, sfm_egress **egress) {
  char *d = NULL;
  int rc = 0;
  switch (id) {
  case O_HELP: case O_VERSION: case O_OUTPUT: case O_CONFIG:
    return 0;
  case O_FUNCTION:
  case O_FUNCTIONS:
    if (sfm_check_function_pattern(name, val, id == O_FUNCTIONS) < 0) return -1;
    return sfm_add_function(app, val, name);
  case O_ENDPOINT:
  case O_URL_TEMPLATE: {
    bool tpl = id == O_URL_TEMPLATE;
    if (sfm_check_url(name, val, tpl) < 0) return -1;
    sfm_setting *mine = tpl ? &app->url_template : &app->endpoint;
    sfm_setting *other = tpl ? &app->endpoint : &app->url_template;
    if (other->value && other->where[0] != '-') { /* from the file: replaced */
      free(other->value);
      free(other->where);
      other->value = other->where = NULL;
    }
    return sfm_set(mine, val, name);
  }
  case O_MAX_BATCH:
    if (sfm_check_max_batch(name, val) < 0) return -1;
    return sfm_set(&app->max_batch, val, name);
  case O_CALL:
  case O_CONNECT:
    if (sfm_duration(name, id == O_CALL ? "call timeout" : "connect timeout",
                     val, &d) < 0)
      return -1;
    rc = sfm_set(id == O_CALL ? &app->call_timeout : &app->connect_timeout, d,
                 name);
    free(d);
    return rc;
  case O_KAFKA:
    if (sfm_check_kafka_address(name, val) < 0) return -1;
    return sfm_set(&app->kafka, val, name);
  case O_INGRESS_ID:
    if (sfm_check_typename(name, "ingress id", val) < 0) return -1;
    return sfm_set(&app->ingress_id, val, name);
  case O_INGRESS_TOPIC:
    return ingress_topic(app, val, name);
  case O_VALUE_TYPE:
    if (sfm_check_typename(name, "value type", val) < 0) return -1;
    return sfm_set(&app->value_type, val, name);
  case O_CONSUMER_GROUP:
    if (sfm_check_consumer_group(name, val) < 0) return -1;
    return sfm_set(&app->consumer_group, val, name);
  case O_STARTUP:
    if (sfm_check_startup(name, val) < 0) return -1;
    return sfm_set(&app->startup, val, name);
  case O_EGRESS:
    if (*egress)
      return sfm_error(name, "conflicting options: --egress given twice; "
                       "declare several egresses in a --config file");
    if (sfm_check_typename(name, "egress id", val) < 0) return -1;
    *egress = sfm_add_egress(app, val, name);
    return *egress ? 0 : -1;
  case O_IR:
    if (!*val) return sfm_error(name, "empty file name");
    return sfm_ir_load(app, val);
  case O_ENTITY_TOPICS:
    if (app->entity_topics.value && app->entity_topics.where[0] == '-')
      return sfm_error(name, "given twice");
    return sfm_set(&app->entity_topics, "true", name);
  case O_EGRESS_TOPIC:
  case O_DELIVERY:
  case O_TXN_TIMEOUT:
    /* Resolved after the pass: they belong to the --egress. */
    return 0;
  }
  return 0;
}

/* The egress options, once the --egress (wherever it stood) is known. */
static int apply_egress_opts(int argc, char **argv, sfm_egress *e) {
  const char *delivery = NULL;
  for (int i = 1; i < argc; i++) {
    const char *iv;
    const struct opt *o = find_opt(argv[i], &iv);
    const char *val = o->has_arg ? (iv ? iv : argv[++i]) : NULL;
    if (o->id != O_EGRESS_TOPIC && o->id != O_DELIVERY && o->id != O_TXN_TIMEOUT)
      continue;
    if (!e)
      return sfm_error(o->name, "conflicting options: %s without --egress",
                       o->name);
    if (o->id == O_EGRESS_TOPIC) {
      if (sfm_check_topic(o->name, val) < 0) return -1;
      sfm_egress_add_topic(e, val);
    } else if (o->id == O_DELIVERY) {
      if (delivery)
        return sfm_error(o->name, "given twice (first '%s', then '%s')",
                         delivery, val);
      delivery = val;
      if (sfm_parse_delivery(o->name, val, &e->delivery) < 0) return -1;
    } else {
      if (e->txn_timeout)
        return sfm_error(o->name, "given twice");
      if (sfm_duration(o->name, "transaction timeout", val, &e->txn_timeout) < 0)
        return -1;
      free(e->txn_where);
      e->txn_where = strdup(o->name);
    }
  }
  return 0;
}

int sfm_cli_parse(int argc, char **argv, sfm_app *app, const char **out_path,
                  bool *done) {
  const char *config = NULL;
  *done = false;
  *out_path = NULL;
  char *prov = NULL;
  size_t plen = 0;
  prov_add(&prov, &plen, "sf-modgen");
  /* Pass 1. */
  for (int i = 1; i < argc; i++) {
    const char *iv;
    const struct opt *o = find_opt(argv[i], &iv);
    if (!o) {
      free(prov);
      if (argv[i][0] == '-')
        return sfm_error(NULL, "unknown option '%s' (see --help)", argv[i]);
      return sfm_error(NULL, "unexpected argument '%s' (see --help)", argv[i]);
    }
    if (o->id == O_HELP || o->id == O_VERSION) {
      free(prov);
      if (o->id == O_HELP) usage(stdout);
      else printf("sf-modgen %s\n", SFM_VERSION);
      *done = true;
      return SFM_EXIT_OK;
    }
    const char *val = NULL;
    if (o->has_arg) {
      if (!iv && i + 1 >= argc) {
        free(prov);
        return sfm_error(o->name, "missing value");
      }
      val = iv ? iv : argv[++i];
    } else if (iv) {
      free(prov);
      return sfm_error(o->name, "takes no value");
    }
    if (o->id == O_OUTPUT) {
      if (*out_path) {
        free(prov);
        return sfm_error(o->name, "given twice");
      }
      if (!*val) {
        free(prov);
        return sfm_error(o->name, "empty file name");
      }
      *out_path = val;
      continue; /* the output path is not part of what the file says */
    }
    if (o->id == O_CONFIG) {
      if (config) {
        free(prov);
        return sfm_error(o->name, "given twice");
      }
      config = val;
    }
    prov_add(&prov, &plen, o->name);
    if (val) prov_add(&prov, &plen, val);
  }
  app->provenance = prov;
  if (config && sfm_config_load(config, app) < 0) return -1;
  /* Pass 2. */
  sfm_egress *egress = NULL;
  for (int i = 1; i < argc; i++) {
    const char *iv;
    const struct opt *o = find_opt(argv[i], &iv);
    const char *val = o->has_arg ? (iv ? iv : argv[++i]) : NULL;
    if (apply(app, o->id, o->name, val, &egress) < 0) return -1;
  }
  return apply_egress_opts(argc, argv, egress);
}
