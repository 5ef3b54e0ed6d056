/*
 * main.c - the sf-local command line: reads module.yaml, creates the
 * engine, starts the HTTP ingress and egress, and runs the engine loop in
 * the main thread until SIGINT or SIGTERM.
 *
 * Signals are blocked in every thread (they inherit the mask from here)
 * and taken synchronously by one thread with sigwait, which may then call
 * sfl_engine_stop (not async-signal-safe) like any other code. A second
 * Ctrl-C while stopping exits at once.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <statefun/statefun.h>

#include "config.h"
#include "engine.h"
#include "http_front.h"
#include "trace_spans.h"
#include "trace_tree.h"
#include "ir.h"

#define DEFAULT_RETRY_PAUSE_MS 1000
#define EXIT_USAGE 2

static void usage(FILE *out) {
  fprintf(out,
"usage: sf-local --module PATH [options]\n"
"\n"
"Runs the StateFun remote functions of a module.yaml on this machine, in\n"
"the part Flink plays: it calls the functions over HTTP, keeps their state,\n"
"delivers their messages, and holds their egress records. Ingress and\n"
"egress are HTTP, compatible with the StateFun playground.\n"
"\n"
"options:\n"
"  --module PATH        the module.yaml (the same file Flink reads)\n"
"  --data DIR           keep state, mailboxes and egress in DIR (durable);\n"
"                       without it everything is in memory\n"
"  --ingress-port N     ingress port (default: the port of the module's\n"
"                       io.statefun.playground.v1/ingress, else %d; 0 picks\n"
"                       a free one)\n"
"  --egress-port N      egress port (default: the port of the module's\n"
"                       io.statefun.playground.v1/egress, else %d; 0 picks\n"
"                       a free one)\n"
"  --bind ADDR          address to listen on (default %s)\n"
"  --max-body BYTES     largest ingress body (default 16M; K/M/G suffixes)\n"
"  --http-threads N     polling threads per HTTP server (default %d)\n"
"  --max-connections N  open connections per server (default %d)\n"
"  --max-connections-per-client N  per server from one IP address\n"
"                       (default %d)\n"
"  --head-timeout S     a request head must be complete S seconds after\n"
"                       its connection opened or its request line came\n"
"                       (default %d)\n"
"  --body-timeout S     its body S seconds after the head (default %d)\n"
"  --idle-timeout S     an idle keep-alive connection is closed after S\n"
"                       seconds (default %d)\n"
"  --max-inflight-bytes BYTES  request bodies buffered at once; beyond,\n"
"                       503 + Retry-After (default 256M)\n"
"  --max-queued-bytes BYTES  queued messages plus unread egress records;\n"
"                       beyond, sends get 503 + Retry-After (default 512M)\n"
"  --stats SECONDS      print a stat line on stderr this often\n"
"  --retry-pause MS     after a batch finally failed, pause this long before\n"
"                       retrying it (default %d)\n"
"  --ir FILE            an entity IR (repeatable): POST /<ns>/<Entity>/<key>/\n"
"                       <method> with JSON arguments calls the method and\n"
"                       answers its JSON result; GET /<ns>/<Entity>/<key>\n"
"                       shows the decoded state fields too\n"
"  --trace-out FILE     write sf-local's spans (each hop of an entity call,\n"
"                       its wait and every HTTP attempt, retries too) as\n"
"                       OTLP/JSON lines to FILE (appended; - for stdout);\n"
"                       docs/tracing.md\n"
"  --trace ID --trace-in FILE... [--dot | --svg OUT]  (first, alone): print\n"
"                       one trace of span files as a tree and exit\n"
"  --verbose, -v        log every function call and HTTP request on stderr\n"
"  --help, -h           this text\n"
"  --version, -V        the version\n"
"\n"
"examples:\n"
"  sf-local --module module.yaml\n"
"\n"
"  # playground style: the body is the raw bytes of the message's type\n"
"  curl -X PUT -H 'Content-Type: application/vnd.example/GreetRequest' \\\n"
"       -d '{\"name\":\"Bob\"}' localhost:8090/example/person/Bob\n"
"\n"
"  # JSON convenience: built-in types (string, bool, long, double; or\n"
"  # ?type=int|float|...), encoded as the SDKs expect\n"
"  curl -H 'Content-Type: application/json' -d '\"Bob\"' "
"localhost:8090/example/greeter/Bob\n"
"  curl -H 'Content-Type: application/json' -d 5 "
"'localhost:8090/example/counter/c1?type=int'\n"
"\n"
"  # a record on a module.yaml ingress topic (as a Kafka producer would)\n"
"  curl -H 'X-Key: Bob' --data-binary @order.json localhost:8090/topics/orders\n"
"\n"
"  # read the egress: the next record of a topic, or JSON lines per egress\n"
"  curl localhost:8091/greetings\n"
"  curl 'localhost:8091/egress/example/out/greetings?wait=5&max=10'\n"
"\n"
"  # with --ir shop.ir.json: call an entity method, JSON in, JSON out\n"
"  curl -s -X POST localhost:8090/shop/User/alice/add_to_basket \\\n"
"       -d '{\"items\":[\"apple\",\"pear\"]}'\n"
"  # -> {\"ok\":true,\"result\":42,\"request_id\":\"sfl-...\"}\n"
"  #    (?wait=S: wait up to S seconds for the reply, default 30)\n"
"\n"
"  # the state, mailbox and last failure of an address; metrics\n"
"  curl localhost:8090/example/greeter/Bob\n"
"  curl localhost:8090/metrics\n"
"\n"
"Pitfall: without a Content-Type the body is sent with typename\n"
"io.statefun.types/string as it is, and the SDKs expect a StringWrapper\n"
"(protobuf) there; send plain text with -H 'Content-Type: text/plain' or\n"
"JSON '\"text\"' with application/json instead. Note also that curl -d\n"
"sends application/x-www-form-urlencoded unless you give -H.\n"
"\n"
"Exit status: 0 after SIGINT/SIGTERM, 1 on a runtime failure, 2 on bad\n"
"options, a bad module.yaml or a bad --ir file. See docs/sf-local-http.md.\n",
          SFL_FRONT_DEFAULT_INGRESS_PORT, SFL_FRONT_DEFAULT_EGRESS_PORT,
          SFL_FRONT_DEFAULT_BIND, SFL_FRONT_DEFAULT_THREADS,
          SFL_FRONT_DEFAULT_MAX_CONNECTIONS, SFL_FRONT_DEFAULT_PER_CLIENT,
          SFL_FRONT_DEFAULT_HEAD_TIMEOUT_S, SFL_FRONT_DEFAULT_BODY_TIMEOUT_S,
          SFL_FRONT_DEFAULT_IDLE_TIMEOUT_S, DEFAULT_RETRY_PAUSE_MS);
}

static int bad_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "sf-local: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nTry 'sf-local --help'.\n");
  return EXIT_USAGE;
}

/* A non-negative integer in [0, max]; -1 when malformed. */
static long long parse_count(const char *s, long long max) {
  if (s == NULL || s[0] < '0' || s[0] > '9') return -1;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < 0 || v > max) return -1;
  return v;
}

/* BYTES with an optional K, M or G (powers of 1024); 0 when malformed. */
static size_t parse_size(const char *s) {
  if (s == NULL || s[0] < '0' || s[0] > '9') return 0;
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0) return 0;
  unsigned shift = 0;
  if (*end == 'K' || *end == 'k') shift = 10, end++;
  else if (*end == 'M' || *end == 'm') shift = 20, end++;
  else if (*end == 'G' || *end == 'g') shift = 30, end++;
  if (*end != '\0' || v == 0 || v > (SIZE_MAX >> shift)) return 0;
  return (size_t)(v << shift);
}

static void free_irs(sfc_ir *irs, size_t n, const char **paths) {
  for (size_t i = 0; i < n; i++) sfc_ir_free(&irs[i]);
  free(irs);
  free(paths);
}

/* ---- ports -------------------------------------------------------------- */

/* Which port a server listens on, and why (for the start-up line). */
typedef struct port_choice {
  long port;
  char why[200];
} port_choice;

/*
 * The playground's ingress and egress documents name the ports the
 * playground image listens on, so sf-local listens there too; a
 * --ingress-port / --egress-port flag overrides them; without either, the
 * default.
 */
static port_choice choose_port(const sfl_config *cfg, bool ingress, bool flag,
                               long long flag_port) {
  port_choice c;
  const char *kind = ingress ? "io.statefun.playground.v1/ingress"
                             : "io.statefun.playground.v1/egress";
  int doc_port = 0, doc_line = 0;
  if (ingress) {
    for (size_t i = 0; i < cfg->n_ingresses; i++)
      if (cfg->ingresses[i].kind == SFL_PLAYGROUND)
        doc_port = cfg->ingresses[i].port, doc_line = cfg->ingresses[i].line;
  } else {
    for (size_t i = 0; i < cfg->n_egresses; i++)
      if (cfg->egresses[i].kind == SFL_PLAYGROUND)
        doc_port = cfg->egresses[i].port, doc_line = cfg->egresses[i].line;
  }
  const char *opt = ingress ? "--ingress-port" : "--egress-port";
  if (flag && doc_line)
    snprintf(c.why, sizeof c.why, "%s, which overrides port %d of the %s "
             "document at %s:%d", opt, doc_port, kind, cfg->path, doc_line);
  else if (flag)
    snprintf(c.why, sizeof c.why, "%s", opt);
  else if (doc_line)
    snprintf(c.why, sizeof c.why, "the port of the %s document at %s:%d",
             kind, cfg->path, doc_line);
  else
    snprintf(c.why, sizeof c.why, "the default; %s changes it", opt);
  c.port = flag || !doc_line ? (long)flag_port : doc_port;
  return c;
}

/* ---- signals ------------------------------------------------------------ */

typedef struct sig_state {
  sigset_t set;
  sfl_engine *engine;
  atomic_bool done; /* main is past the loop: the next signal ends us */
} sig_state;

static void *signal_thread(void *arg) {
  sig_state *st = arg;
  bool stopping = false;
  for (;;) {
    int sig = 0;
    if (sigwait(&st->set, &sig) != 0) continue;
    if (sig == SIGUSR1 && atomic_load(&st->done)) return NULL;
    if (sig == SIGUSR1) continue;
    if (stopping) {
      fprintf(stderr, "sf-local: %s again: exiting now\n",
              sig == SIGINT ? "interrupted" : "terminated");
      _exit(1);
    }
    stopping = true;
    fprintf(stderr, "sf-local: %s, stopping (again to force)\n",
            sig == SIGINT ? "interrupted" : "terminated");
    sfl_engine_stop(st->engine);
  }
}

/* ---- the command line -------------------------------------------------- */

typedef struct args {
  const char *module;
  const char *data;
  const char *bind_to;
  long long ingress_port, egress_port;
  bool ingress_flag, egress_flag; /* given on the command line */
  long long stats_s;
  long long retry_pause;
  size_t max_body;
  sfl_front_limits lim;
  size_t max_queued;
  int verbose;
  const char *trace_out; /* --trace-out: sf-local's spans */
  const char **ir_paths; /* malloc'd; the strings are argv's */
  size_t n_ir;
} args;

/* Appends an --ir path. */
static int add_ir_path(args *a, const char *path) {
  if (path[0] == '\0') return bad_usage("--ir needs a file%s", "");
  const char **np = realloc(a->ir_paths, (a->n_ir + 1) * sizeof *np);
  if (np == NULL) {
    free(a->ir_paths);
    a->ir_paths = NULL;
    return bad_usage("out of memory%s", "");
  }
  a->ir_paths = np;
  a->ir_paths[a->n_ir++] = path;
  return -1;
}

enum { OPT_DATA = 256, OPT_IN, OPT_OUT, OPT_BIND, OPT_STATS, OPT_RETRY,
       OPT_BODY, OPT_IR, OPT_THREADS, OPT_CONNS, OPT_PER_CLIENT, OPT_HEAD_TO,
       OPT_BODY_TO, OPT_IDLE_TO, OPT_INFLIGHT, OPT_QUEUED, OPT_TRACE_OUT };

/* A limit option: a whole number from 1 to max into *out. */
static int take_limit(const char *name, unsigned *out, long long max) {
  long long v = parse_count(optarg, max);
  if (v < 1) return bad_usage("bad %s (a whole number from 1)", name);
  *out = (unsigned)v;
  return -1;
}

/* One option and its value: -1 to go on, else the exit status. */
static int take_option(args *a, int c, char **argv) {
  switch (c) {
    case 'm': a->module = optarg; return -1;
    case OPT_DATA:
      if (optarg[0] == '\0') return bad_usage("--data needs a directory%s", "");
      a->data = optarg;
      return -1;
    case OPT_IN:
      if ((a->ingress_port = parse_count(optarg, 65535)) < 0)
        return bad_usage("bad --ingress-port '%s' (0 to 65535)", optarg);
      a->ingress_flag = true;
      return -1;
    case OPT_OUT:
      if ((a->egress_port = parse_count(optarg, 65535)) < 0)
        return bad_usage("bad --egress-port '%s' (0 to 65535)", optarg);
      a->egress_flag = true;
      return -1;
    case OPT_BIND:
      if (optarg[0] == '\0') return bad_usage("--bind needs an address%s", "");
      a->bind_to = optarg;
      return -1;
    case OPT_STATS:
      if ((a->stats_s = parse_count(optarg, 86400)) < 0)
        return bad_usage("bad --stats '%s' (whole seconds, 0 to 86400)",
                         optarg);
      return -1;
    case OPT_RETRY:
      if ((a->retry_pause = parse_count(optarg, 86400000)) < 0)
        return bad_usage("bad --retry-pause '%s' (milliseconds)", optarg);
      return -1;
    case OPT_BODY:
      if ((a->max_body = parse_size(optarg)) == 0)
        return bad_usage("bad --max-body '%s' (bytes, e.g. 1048576 or 16M)",
                         optarg);
      return -1;
    case OPT_IR: return add_ir_path(a, optarg);
    case OPT_THREADS: return take_limit("--http-threads", &a->lim.threads, 64);
    case OPT_CONNS:
      return take_limit("--max-connections", &a->lim.max_connections, 1000000);
    case OPT_PER_CLIENT:
      return take_limit("--max-connections-per-client", &a->lim.per_client,
                        1000000);
    case OPT_HEAD_TO:
      return take_limit("--head-timeout", &a->lim.head_timeout_s, 86400);
    case OPT_BODY_TO:
      return take_limit("--body-timeout", &a->lim.body_timeout_s, 86400);
    case OPT_IDLE_TO:
      return take_limit("--idle-timeout", &a->lim.idle_timeout_s, 86400);
    case OPT_INFLIGHT:
      if ((a->lim.max_inflight = parse_size(optarg)) == 0)
        return bad_usage("bad --max-inflight-bytes '%s' (bytes, e.g. 64M)",
                         optarg);
      return -1;
    case OPT_QUEUED:
      if ((a->max_queued = parse_size(optarg)) == 0)
        return bad_usage("bad --max-queued-bytes '%s' (bytes, e.g. 512M)",
                         optarg);
      return -1;
    case OPT_TRACE_OUT:
      if (optarg[0] == '\0') return bad_usage("--trace-out needs a file (- for stdout)%s", "");
      a->trace_out = optarg;
      return -1;
    case 'v': a->verbose = 1; return -1;
    case 'h': usage(stdout); return 0;
    case 'V': printf("sf-local %s\n", SF_VERSION_STRING); return 0;
    case ':': return bad_usage("%s needs a value", argv[optind - 1]);
    default: return bad_usage("unknown option '%s'", argv[optind - 1]);
  }
}

/* Reads the command line into *a: -1 to go on, else the exit status
 * (after --help, --version or a bad option). */
static int parse_args(int argc, char **argv, args *a) {
  static const struct option opts[] = {
      {"module", required_argument, NULL, 'm'},
      {"data", required_argument, NULL, OPT_DATA},
      {"ingress-port", required_argument, NULL, OPT_IN},
      {"egress-port", required_argument, NULL, OPT_OUT},
      {"bind", required_argument, NULL, OPT_BIND},
      {"stats", required_argument, NULL, OPT_STATS},
      {"retry-pause", required_argument, NULL, OPT_RETRY},
      {"max-body", required_argument, NULL, OPT_BODY},
      {"ir", required_argument, NULL, OPT_IR},
      {"http-threads", required_argument, NULL, OPT_THREADS},
      {"max-connections", required_argument, NULL, OPT_CONNS},
      {"max-connections-per-client", required_argument, NULL, OPT_PER_CLIENT},
      {"head-timeout", required_argument, NULL, OPT_HEAD_TO},
      {"body-timeout", required_argument, NULL, OPT_BODY_TO},
      {"idle-timeout", required_argument, NULL, OPT_IDLE_TO},
      {"max-inflight-bytes", required_argument, NULL, OPT_INFLIGHT},
      {"max-queued-bytes", required_argument, NULL, OPT_QUEUED},
      {"trace-out", required_argument, NULL, OPT_TRACE_OUT},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0},
  };
  memset(a, 0, sizeof *a);
  a->bind_to = SFL_FRONT_DEFAULT_BIND;
  a->ingress_port = SFL_FRONT_DEFAULT_INGRESS_PORT;
  a->egress_port = SFL_FRONT_DEFAULT_EGRESS_PORT;
  a->retry_pause = DEFAULT_RETRY_PAUSE_MS;
  a->max_body = SFL_FRONT_DEFAULT_MAX_BODY;
  opterr = 0;
  /* `--trace` would pass for an abbreviation of --trace-out */
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--trace") == 0)
      return bad_usage("--trace ID --trace-in FILE prints a trace and exits: it goes first, "
                       "alone%s (--trace-out FILE writes spans)", "");
  int c;
  while ((c = getopt_long(argc, argv, ":m:vhV", opts, NULL)) != -1) {
    int rc = take_option(a, c, argv);
    if (rc >= 0) return rc;
  }
  if (optind < argc)
    return bad_usage("unexpected argument '%s' (the module goes after "
                     "--module)", argv[optind]);
  if (a->module == NULL) return bad_usage("--module PATH is required%s", "");
  return -1;
}

/* ---- start-up ------------------------------------------------------------ */

/* Loads the --ir files into *out (checked before anything starts: no
 * entity twice in one namespace). 0, or the exit status. */
static int load_irs(const args *a, sfc_ir **out) {
  char err[1024] = "";
  size_t n_ir = a->n_ir;
  const char **ir_paths = a->ir_paths;
  sfc_ir *irs = n_ir ? calloc(n_ir, sizeof *irs) : NULL;
  *out = irs;
  if (n_ir && irs == NULL) {
    fprintf(stderr, "sf-local: out of memory\n");
    return 1;
  }
  for (size_t i = 0; i < n_ir; i++) {
    if (sfc_ir_load(ir_paths[i], &irs[i], err, sizeof err) != 0) {
      fprintf(stderr, "%s\n", err);
      free_irs(irs, i, NULL);
      *out = NULL;
      return EXIT_USAGE;
    }
    for (size_t k = 0; k < i; k++)
      if (strcmp(irs[k].namespace_, irs[i].namespace_) == 0)
        for (size_t e = 0; e < irs[i].n_entities; e++)
          if (sfc_ir_entity(&irs[k], irs[i].entities[e].name) != NULL) {
            fprintf(stderr,
                    "%s: entity %s/%s is also declared in %s\n",
                    ir_paths[i], irs[i].namespace_,
                    irs[i].entities[e].name, ir_paths[k]);
            free_irs(irs, i + 1, NULL);
            *out = NULL;
            return EXIT_USAGE;
          }
  }
  return 0;
}

/* Blocks the signals sf-local takes with sigwait. Before any thread
 * exists: every thread inherits this mask. */
static void block_signals(sig_state *sig) {
  memset(sig, 0, sizeof *sig);
  sigemptyset(&sig->set);
  sigaddset(&sig->set, SIGINT);
  sigaddset(&sig->set, SIGTERM);
  sigaddset(&sig->set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &sig->set, NULL);
  signal(SIGPIPE, SIG_IGN);
  atomic_init(&sig->done, false);
}

/* The start-up lines: the module, the servers, the ports and why, the
 * functions and entities served. */
static void print_started(const args *a, const sfl_config *cfg,
                          const sfl_front *front, const port_choice *in,
                          const port_choice *out, const sfc_ir *irs) {
  size_t topics = 0;
  for (size_t i = 0; i < cfg->n_ingresses; i++)
    topics += cfg->ingresses[i].n_routes;
  const char *b = a->bind_to;
  bool v6 = strchr(b, ':') != NULL;
  fprintf(stderr,
          "sf-local: module %s: %zu endpoint(s), %zu ingress topic(s), %zu "
          "egress(es); ingress http://%s%s%s:%u, egress http://%s%s%s:%u, "
          "state: ",
          a->module, cfg->n_endpoints, topics, cfg->n_egresses,
          v6 ? "[" : "", b, v6 ? "]" : "",
          (unsigned)sfl_front_ingress_port(front), v6 ? "[" : "", b,
          v6 ? "]" : "", (unsigned)sfl_front_egress_port(front));
  if (a->data != NULL)
    fprintf(stderr, "durable in %s\n", a->data);
  else
    fprintf(stderr,
            "in memory (nothing survives a restart; use --data DIR)\n");
  fprintf(stderr, "sf-local:   ports: ingress %u (%s), egress %u (%s)\n",
          (unsigned)sfl_front_ingress_port(front), in->why,
          (unsigned)sfl_front_egress_port(front), out->why);
  for (size_t i = 0; i < cfg->n_endpoints; i++)
    fprintf(stderr, "sf-local:   functions %s -> %s\n",
            cfg->endpoints[i].functions, cfg->endpoints[i].url_template);
  for (size_t i = 0; i < a->n_ir; i++)
    for (size_t k = 0; k < irs[i].n_entities; k++)
      fprintf(stderr,
              "sf-local:   entity %s/%s (%s): POST /%s/%s/<key>/<method>\n",
              irs[i].namespace_, irs[i].entities[k].name, a->ir_paths[i],
              irs[i].namespace_, irs[i].entities[k].name);
  if (cfg->n_endpoints == 0)
    fprintf(stderr, "sf-local: warning: module.yaml declares no function "
                    "endpoint; every message will be refused\n");
}

/* Runs the engine loop with the signal thread beside it; 0 or 1. */
static int run(sfl_engine *engine, sig_state *sig) {
  sig->engine = engine;
  pthread_t st;
  if (pthread_create(&st, NULL, signal_thread, sig) != 0) {
    fprintf(stderr, "sf-local: cannot start the signal thread\n");
    return 1;
  }
  int rc = sfl_engine_run(engine) == 0 ? 0 : 1;
  atomic_store(&sig->done, true);
  pthread_kill(st, SIGUSR1);
  pthread_join(st, NULL);
  return rc;
}

/* ---- main --------------------------------------------------------------- */

/* The engine and the front as the command line asks; the front on the
 * ports chosen. NULL engine (with the error printed) on failure. */
static sfl_engine *start_engine(const args *a, const sfl_config *cfg) {
  char err[1024] = "";
  sfl_engine_options eo;
  memset(&eo, 0, sizeof eo);
  eo.config = cfg;
  eo.data_dir = a->data;
  eo.verbose = a->verbose;
  eo.stats_interval_ms = (int)(a->stats_s * 1000);
  eo.retry_pause_ms = a->retry_pause;
  eo.max_queued_bytes = a->max_queued;
  sfl_engine *engine = sfl_engine_new(&eo, err, sizeof err);
  if (engine == NULL)
    fprintf(stderr, "sf-local: %s\n", err[0] ? err : "cannot start the engine");
  return engine;
}

static sfl_front *start_front(const args *a, const sfl_config *cfg,
                              sfl_engine *engine, const port_choice *in,
                              const port_choice *out, const sfc_ir *irs) {
  char err[1024] = "";
  sfl_front_options fo;
  memset(&fo, 0, sizeof fo);
  fo.engine = engine;
  fo.config = cfg;
  fo.bind = a->bind_to;
  fo.ingress_port = (uint16_t)in->port;
  fo.egress_port = (uint16_t)out->port;
  fo.max_body = a->max_body;
  fo.limits = a->lim;
  fo.verbose = a->verbose;
  fo.irs = irs;
  fo.n_irs = a->n_ir;
  sfl_front *front = sfl_front_start(&fo, err, sizeof err);
  if (front == NULL) fprintf(stderr, "sf-local: %s\n", err);
  return front;
}

/* Fixes glibc's thresholds for giving memory back, before any thread
 * allocates. By default they are dynamic: once a block over 128 KiB
 * allocated with mmap is freed (an egress read of many records, a large
 * batch), the mmap threshold rises to its size and the trim threshold to
 * twice that, so later large blocks come from the heaps, and what a
 * backlog freed in the HTTP threads' arenas stays resident: malloc_trim()
 * does not shrink an arena's top (engine.c, trim_when_idle). A 4 s stall
 * of the function left sf-local's RssAnon at 14 MB with 2 MB in use
 * (malloc_stats); with fixed thresholds, 4.8 MB (bench/README.md, "The
 * soak"). Setting them also turns the dynamic adjustment off. */
static void fix_malloc_thresholds(void) {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  mallopt(M_TRIM_THRESHOLD, 128 * 1024);
#endif
}

int main(int argc, char **argv) {
  fix_malloc_thresholds();
  /* sf-local --trace ID --trace-in FILE: a trace's tree, no runtime */
  if (argc > 1 && strcmp(argv[1], "--trace") == 0) return sfl_trace_main(argc, argv);
  args a;
  int rc = parse_args(argc, argv, &a);
  if (rc >= 0) return rc;
  sig_state sig;
  block_signals(&sig);
  sfc_ir *irs = NULL;
  if ((rc = load_irs(&a, &irs)) != 0) {
    free(a.ir_paths);
    return rc;
  }
  char err[1024] = "";
  sfl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  if (sfl_config_load(a.module, &cfg, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    free_irs(irs, a.n_ir, a.ir_paths);
    return EXIT_USAGE;
  }
  if (a.trace_out != NULL && sflt_open(a.trace_out, err, sizeof err) != 0) {
    fprintf(stderr, "sf-local: %s\n", err);
    sfl_config_free(&cfg);
    free_irs(irs, a.n_ir, a.ir_paths);
    return 1;
  }
  port_choice in = choose_port(&cfg, true, a.ingress_flag, a.ingress_port);
  port_choice out = choose_port(&cfg, false, a.egress_flag, a.egress_port);
  sfl_engine *engine = NULL;
  sfl_front *front = NULL;
  if (in.port != 0 && in.port == out.port) {
    fprintf(stderr,
            "sf-local: the ingress (%s) and the egress (%s) would both listen "
            "on port %ld; give them different ports\n",
            in.why, out.why, in.port);
    rc = EXIT_USAGE;
  } else if ((engine = start_engine(&a, &cfg)) == NULL ||
             (front = start_front(&a, &cfg, engine, &in, &out, irs)) == NULL) {
    rc = 1;
  } else {
    print_started(&a, &cfg, front, &in, &out, irs);
    rc = run(engine, &sig);
  }
  sfl_front_stop(front);
  sfl_engine_free(engine);
  sflt_close();
  sfl_config_free(&cfg);
  free_irs(irs, a.n_ir, a.ir_paths);
  if (front != NULL)
    fprintf(stderr, "sf-local: stopped%s\n",
            rc == 0 ? "" : " (engine failure)");
  return rc;
}
