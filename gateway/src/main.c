/*
 * main.c - sf-gateway's command line: reads the entity IRs (and the
 * module.yaml, when given, for the entity topics and the replies egress),
 * starts the Kafka clients and the HTTP front, prints one start-up line,
 * and on SIGTERM/SIGINT stops taking calls, lets the calls in flight
 * finish (2 s at most), and exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h" /* sf-local's module.yaml reader (sfl_config) */
#include "gateway.h"
#include "sfb/duration.h"
#include "statefun/version.h"

static void usage(FILE *f) {
  fputs(
      "usage: sf-gateway --ir FILE [--ir FILE ...] [options]\n"
      "\n"
      "Entity calls over HTTP for entities running on Flink StateFun:\n"
      "POST /<namespace>/<Entity>/<key>/<method> with the JSON arguments\n"
      "becomes a statefun.entities/Call record on the entity's Kafka topic;\n"
      "the answer is the Reply read from the replies topic (docs/gateway.md).\n"
      "\n"
      "  --listen HOST:PORT       default 127.0.0.1:8092 (port 0: a free one)\n"
      "  --brokers HOST:PORT,...  Kafka bootstrap servers (default "
      "127.0.0.1:9092)\n"
      "  --ir FILE                an entity IR (repeatable)\n"
      "  --module FILE            the module.yaml Flink runs (sf-modgen --ir\n"
      "                           --entity-topics): the topic of each entity\n"
      "                           and the replies egress are read from it\n"
      "  --reply-egress NS/NAME   the egress the entities write Replies to\n"
      "                           (default: the module's only Kafka egress,\n"
      "                           else <namespace>.io/replies)\n"
      "  --replies-topic TOPIC    the topic of the Replies (default\n"
      "                           <namespace>.replies)\n"
      "  --timeout DURATION       default wait for a Reply (default 30s;\n"
      "                           ?wait=S per call, at most --max-wait)\n"
      "  --max-wait DURATION      default 60s\n"
      "  --remember DURATION      how long a request id (and its Reply) is\n"
      "                           kept for retries (default 10min)\n"
      "  --remember-max N         ... and at most N of them (default 200000)\n"
      "  --max-body BYTES         default 16777216; larger bodies get 413\n"
      "  --isolation committed|uncommitted\n"
      "                           the replies consumer's isolation.level\n"
      "                           (default committed: needed with an\n"
      "                           exactly-once egress, free with the others)\n"
      "  --producer-prop K=V      a librdkafka property of the Call producer\n"
      "  --consumer-prop K=V      ... of the Reply consumer (repeatable)\n"
      "  --trace-out FILE         write the gateway's span of each entity call\n"
      "                           (OTLP/JSON lines, appended; - for stdout;\n"
      "                           docs/tracing.md)\n"
      "  -v, --verbose            log HTTP server errors\n"
      "  -V, --version            the version\n",
      f);
}

static int bad(const char *opt, const char *val, const char *why) {
  fprintf(stderr, GW_NAME ": %s %s: %s (see --help)\n", opt, val ? val : "",
          why);
  return -1;
}

static int duration_ms(const char *opt, const char *v, int64_t *out) {
  sfb_duration_error e = sfb_duration_parse_ms(v, out);
  if (e != SFB_DURATION_OK) return bad(opt, v, sfb_duration_strerror(e));
  if (*out <= 0) return bad(opt, v, "must be positive");
  return 0;
}

/* A positive decimal count (bytes, entries). */
static int count(const char *opt, const char *v, size_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 10);
  if (errno || end == v || *end || n == 0 || v[0] == '-')
    return bad(opt, v, "expected a positive number");
  *out = (size_t)n;
  return 0;
}

static int add_prop(gw_options *o, const char *opt, const char *kv,
                    bool consumer) {
  const char *eq = strchr(kv, '=');
  if (eq == NULL || eq == kv) return bad(opt, kv, "expected KEY=VALUE");
  gw_prop *p = realloc(o->props, (o->n_props + 1) * sizeof *p);
  if (p == NULL) return bad(opt, kv, "out of memory");
  o->props = p;
  char *key = strndup(kv, (size_t)(eq - kv));
  p[o->n_props++] = (gw_prop){key, eq + 1, consumer};
  return key != NULL ? 0 : bad(opt, kv, "out of memory");
}

/* 0; 1 for --help, 2 for --version; -1 on a bad option (said on
 * stderr). */
static int parse_args(int argc, char **argv, gw_options *o) {
  *o = (gw_options){.listen = "127.0.0.1:8092",
                    .timeout_ms = SFC_CALL_DEFAULT_WAIT_MS,
                    .max_wait_ms = 60000,
                    .remember_ms = 600000,
                    .remember_max = 200000,
                    .max_body = 16u << 20,
                    .isolation_committed = 1};
  o->ir_paths = calloc((size_t)argc, sizeof *o->ir_paths);
  if (o->ir_paths == NULL) return bad("sf-gateway", NULL, "out of memory");
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
    if (!strcmp(a, "-V") || !strcmp(a, "--version")) return 2;
    if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
      o->verbose = true;
      continue;
    }
    if (a[0] != '-' || a[1] != '-') return bad(a, NULL, "unexpected argument");
    if (i + 1 >= argc) return bad(a, NULL, "needs a value");
    const char *v = argv[++i];
    int rc = 0;
    if (!strcmp(a, "--listen")) o->listen = v;
    else if (!strcmp(a, "--brokers")) o->brokers = v;
    else if (!strcmp(a, "--ir")) o->ir_paths[o->n_ir++] = v;
    else if (!strcmp(a, "--module")) o->module = v;
    else if (!strcmp(a, "--reply-egress")) o->reply_egress = v;
    else if (!strcmp(a, "--replies-topic")) o->replies_topic = v;
    else if (!strcmp(a, "--trace-out")) o->trace_out = v;
    else if (!strcmp(a, "--timeout")) rc = duration_ms(a, v, &o->timeout_ms);
    else if (!strcmp(a, "--max-wait")) rc = duration_ms(a, v, &o->max_wait_ms);
    else if (!strcmp(a, "--remember")) rc = duration_ms(a, v, &o->remember_ms);
    else if (!strcmp(a, "--producer-prop")) rc = add_prop(o, a, v, false);
    else if (!strcmp(a, "--consumer-prop")) rc = add_prop(o, a, v, true);
    else if (!strcmp(a, "--isolation")) {
      if (!strcmp(v, "committed")) o->isolation_committed = 1;
      else if (!strcmp(v, "uncommitted")) o->isolation_committed = 0;
      else rc = bad(a, v, "expected committed or uncommitted");
    } else if (!strcmp(a, "--remember-max")) {
      rc = count(a, v, &o->remember_max);
    } else if (!strcmp(a, "--max-body")) {
      rc = count(a, v, &o->max_body);
    } else {
      return bad(a, NULL, "unknown option");
    }
    if (rc != 0) return -1;
  }
  if (o->n_ir == 0) return bad("--ir", NULL, "at least one entity IR needed");
  if (o->timeout_ms > o->max_wait_ms) o->max_wait_ms = o->timeout_ms;
  if (o->brokers == NULL) o->brokers = "127.0.0.1:9092";
  return 0;
}

const gw_route *gw_route_of(const gw *g, const char *fn_typename) {
  for (size_t i = 0; i < g->n_routes; i++)
    if (!strcmp(g->routes[i].fn_typename, fn_typename)) return &g->routes[i];
  return NULL;
}

/* The module's Kafka topic of Calls for an entity (valueType
 * statefun.entities/Call, the entity among its targets), or NULL. */
static const char *module_topic(const sfl_config *cfg, const char *type) {
  for (size_t i = 0; cfg != NULL && i < cfg->n_ingresses; i++) {
    const sfl_ingress *in = &cfg->ingresses[i];
    if (in->kind != SFL_KAFKA) continue;
    for (size_t r = 0; r < in->n_routes; r++) {
      if (strcmp(in->routes[r].value_type, SFC_CALL_TYPENAME) != 0) continue;
      for (size_t t = 0; t < in->routes[r].n_targets; t++)
        if (!strcmp(in->routes[r].targets[t], type)) return in->routes[r].topic;
    }
  }
  return NULL;
}

/* Entity -> topic for every entity of the IRs: the module's route, else
 * sf-modgen --entity-topics' name "<namespace>.<Entity>". */
static int make_routes(gw *g, const sfl_config *cfg) {
  size_t n = 0;
  for (size_t i = 0; i < g->n_irs; i++) n += g->irs[i].n_entities;
  g->routes = calloc(n ? n : 1, sizeof *g->routes);
  if (g->routes == NULL) return -1;
  for (size_t i = 0; i < g->n_irs; i++) {
    for (size_t k = 0; k < g->irs[i].n_entities; k++) {
      gw_route *r = &g->routes[g->n_routes++];
      const sfc_entity *e = &g->irs[i].entities[k];
      char type[512];
      snprintf(type, sizeof type, "%s/%s", g->irs[i].namespace_, e->name);
      const char *t = module_topic(cfg, type);
      r->fn_typename = strdup(type);
      r->entity = e;
      if (t != NULL) {
        r->topic = strdup(t);
      } else if (cfg != NULL) {
        fprintf(stderr,
                GW_NAME
                ": %s: no Kafka ingress routes a topic of %s to %s "
                "(sf-modgen --ir ... --entity-topics writes one)\n",
                cfg->path, SFC_CALL_TYPENAME, type);
        return -1;
      } else {
        char topic[512];
        snprintf(topic, sizeof topic, "%s.%s", g->irs[i].namespace_, e->name);
        r->topic = strdup(topic);
      }
      if (r->fn_typename == NULL || r->topic == NULL) return -1;
    }
  }
  return 0;
}

/* The replies egress and topic; with a module, the egress must be one of
 * its Kafka egresses, and an exactly-once one is noted. */
static int replies(gw *g, const sfl_config *cfg, bool *exactly_once) {
  static char egress[512], topic[512];
  const sfl_egress *found = NULL;
  size_t n_kafka = 0;
  for (size_t i = 0; cfg != NULL && i < cfg->n_egresses; i++) {
    if (cfg->egresses[i].kind != SFL_KAFKA) continue;
    n_kafka++;
    if (g->opt.reply_egress == NULL ||
        !strcmp(g->opt.reply_egress, cfg->egresses[i].id))
      found = &cfg->egresses[i];
  }
  if (g->opt.reply_egress == NULL) {
    if (found != NULL && n_kafka == 1) {
      g->opt.reply_egress = found->id;
    } else {
      snprintf(egress, sizeof egress, "%s.io/replies", g->irs[0].namespace_);
      g->opt.reply_egress = egress;
      found = NULL;
      for (size_t i = 0; cfg != NULL && i < cfg->n_egresses; i++)
        if (!strcmp(cfg->egresses[i].id, egress)) found = &cfg->egresses[i];
    }
  }
  if (cfg != NULL && found == NULL) {
    fprintf(stderr,
            GW_NAME
            ": %s: no Kafka egress '%s' for the Replies (give "
            "--reply-egress; sf-modgen --ir adds <namespace>.io/"
            "replies)\n",
            cfg->path, g->opt.reply_egress);
    return -1;
  }
  *exactly_once = found != NULL && found->exactly_once;
  if (g->opt.replies_topic == NULL) {
    snprintf(topic, sizeof topic, "%s.replies", g->irs[0].namespace_);
    g->opt.replies_topic = topic;
  }
  return 0;
}

/* The IRs, the module, the routes. Exit status 2 on a bad file. */
static int load(gw *g) {
  char err[1024];
  g->irs = calloc(g->opt.n_ir, sizeof *g->irs);
  if (g->irs == NULL) return -1;
  for (size_t i = 0; i < g->opt.n_ir; i++, g->n_irs++)
    if (sfc_ir_load(g->opt.ir_paths[i], &g->irs[i], err, sizeof err) != 0) {
      fprintf(stderr, "%s\n", err);
      return -1;
    }
  sfl_config cfg, *pcfg = NULL;
  if (g->opt.module != NULL) {
    if (sfl_config_load(g->opt.module, &cfg, err, sizeof err) != 0) {
      fprintf(stderr, "%s\n", err);
      return -1;
    }
    pcfg = &cfg;
  }
  bool eo = false;
  int rc = make_routes(g, pcfg);
  if (rc == 0) rc = replies(g, pcfg, &eo);
  if (rc == 0 && pcfg != NULL && g->opt.reply_egress != NULL) {
    /* the egress id came from cfg: keep our own copy */
    g->opt.reply_egress = strdup(g->opt.reply_egress);
    if (g->opt.reply_egress == NULL) rc = -1;
  }
  g->read_committed = g->opt.isolation_committed != 0;
  if (rc == 0 && eo && !g->read_committed)
    fprintf(stderr,
            GW_NAME
            ": warning: egress %s is exactly-once but --isolation "
            "uncommitted reads Replies of transactions that may "
            "still abort (a result that Flink then replays)\n",
            g->opt.reply_egress);
  if (pcfg != NULL) sfl_config_free(pcfg);
  return rc;
}

static void startup_line(const gw *g) {
  char routes[1024] = "";
  size_t o = 0;
  for (size_t i = 0; i < g->n_routes && o + 1 < sizeof routes; i++) {
    int w = snprintf(routes + o, sizeof routes - o, "%s%s -> %s", i ? ", " : "",
                     g->routes[i].fn_typename, g->routes[i].topic);
    if (w > 0) o += (size_t)w;
  }
  fprintf(stderr,
          GW_NAME
          ": listening on http://%s (port %u); Kafka %s; %zu "
          "entities (%s); Replies: egress %s, topic %s (%s); "
          "wait %.3g s, request ids kept %.3g s\n",
          g->opt.listen, (unsigned)g->port, g->opt.brokers, g->n_routes, routes,
          g->opt.reply_egress, g->opt.replies_topic,
          g->read_committed ? "read_committed" : "read_uncommitted",
          (double)g->opt.timeout_ms / 1000.0,
          (double)g->opt.remember_ms / 1000.0);
}

int main(int argc, char **argv) {
  static gw g;
  int rc = parse_args(argc, argv, &g.opt);
  if (rc == 1) usage(stdout);
  if (rc == 2) printf(GW_NAME " %s\n", SF_VERSION_STRING);
  if (rc != 0) return rc > 0 ? 0 : 2;
  if (load(&g) != 0) return 2;
  pthread_mutex_init(&g.trace_mu, NULL);
  if (g.opt.trace_out != NULL) {
    g.trace_out = strcmp(g.opt.trace_out, "-") == 0 ? stdout : fopen(g.opt.trace_out, "a");
    if (g.trace_out == NULL) {
      fprintf(stderr, GW_NAME ": --trace-out %s: %s\n", g.opt.trace_out, strerror(errno));
      return 2;
    }
  }
  /* SIGTERM/SIGINT go to sigwait below, not to the threads. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);
  if (gw_table_init(&g.table, 1u << 16) != 0 || gw_kafka_start(&g) != 0) {
    gw_kafka_stop(&g);
    return 1;
  }
  if (gw_http_start(&g) != 0) {
    gw_kafka_stop(&g);
    return 1;
  }
  if (pthread_create(&g.kafka_thread, NULL, gw_kafka_loop, &g) != 0) {
    fprintf(stderr, GW_NAME ": cannot start the Kafka thread\n");
    return 1;
  }
  startup_line(&g);
  int sig = 0;
  sigwait(&sigs, &sig);
  fprintf(stderr, GW_NAME ": %s: stopping\n",
          sig == SIGTERM ? "SIGTERM" : "SIGINT");
  atomic_store(&g.stopping, true);
  pthread_join(g.kafka_thread, NULL); /* every wait answered */
  gw_http_stop(&g);
  gw_kafka_stop(&g);
  gw_table_free(&g.table);
  if (g.trace_out != NULL && g.trace_out != stdout) fclose(g.trace_out);
  fprintf(stderr,
          GW_NAME
          ": stopped (%llu calls, %llu replies, %llu "
          "timeouts)\n",
          (unsigned long long)atomic_load(&g.n_calls),
          (unsigned long long)atomic_load(&g.n_replies),
          (unsigned long long)atomic_load(&g.n_timeouts));
  return 0;
}
