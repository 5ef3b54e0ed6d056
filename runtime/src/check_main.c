/*
 * sf-local-check - reads a module.yaml the way sf-local does and says what
 * it found: one line per document (endpoint, ingress, egress) in file order,
 * or the first error as "file:line:col: message" and exit status 2.
 * Usage: sf-local-check module.yaml
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

static void print_ms(int64_t ms) {
  if (ms && ms % 60000 == 0)
    printf("%" PRId64 "min", ms / 60000);
  else if (ms && ms % 1000 == 0)
    printf("%" PRId64 "s", ms / 1000);
  else
    printf("%" PRId64 "ms", ms);
}

static void print_endpoint(const sfl_config *cfg, const sfl_endpoint *ep) {
  char batch[24] = "no limit";
  if (ep->max_batch) snprintf(batch, sizeof batch, "%" PRIu32, ep->max_batch);
  printf("%s:%d: endpoint %s -> %s (batch %s, %s, call ", cfg->path,
         ep->line, ep->functions, ep->url_template, batch,
         ep->transport == SFL_TRANSPORT_OKHTTP ? "okhttp" : "async");
  print_ms(ep->call_timeout_ms);
  printf(", connect ");
  print_ms(ep->connect_timeout_ms);
  if (ep->trust_cacerts) printf(", trust %s", ep->trust_cacerts);
  if (ep->client_cert) printf(", mTLS as %s", ep->client_cert);
  printf(")%s\n", ep->unix_socket ? " [http+unix: not supported by sf-local]" : "");
}

static const char *kind_name(sfl_io_kind k) {
  return k == SFL_KAFKA ? "kafka" : k == SFL_KINESIS ? "kinesis" : "playground";
}

static void print_ingress(const sfl_config *cfg, const sfl_ingress *in) {
  printf("%s:%d: %s ingress %s", cfg->path, in->line, kind_name(in->kind), in->id);
  if (in->kind == SFL_PLAYGROUND) printf(" (port %d)", in->port);
  for (size_t i = 0; i < in->n_routes; i++) {
    const sfl_route *r = &in->routes[i];
    printf("%s %s [%s] -> ", i ? ";" : ":", r->topic, r->value_type);
    for (size_t j = 0; j < r->n_targets; j++)
      printf("%s%s", j ? ", " : "", r->targets[j]);
  }
  printf("\n");
}

static void print_egress(const sfl_config *cfg, const sfl_egress *eg) {
  printf("%s:%d: %s egress %s", cfg->path, eg->line, kind_name(eg->kind), eg->id);
  if (eg->exactly_once) printf(" (exactly-once)");
  if (eg->kind == SFL_PLAYGROUND) {
    printf(" (port %d, topics:", eg->port);
    for (size_t i = 0; i < eg->n_topics; i++) printf(" %s", eg->topics[i]);
    printf(")");
  }
  printf("\n");
}

int main(int argc, char **argv) {
  if (argc != 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
    fprintf(stderr, "usage: sf-local-check module.yaml\n");
    return argc == 2 ? 0 : 2;
  }
  sfl_config cfg;
  char err[1024];
  if (sfl_config_load(argv[1], &cfg, err, sizeof err) < 0) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  /* Merge the three lists back into document order. */
  size_t e = 0, i = 0, o = 0;
  for (;;) {
    int le = e < cfg.n_endpoints ? cfg.endpoints[e].line : -1;
    int li = i < cfg.n_ingresses ? cfg.ingresses[i].line : -1;
    int lo = o < cfg.n_egresses ? cfg.egresses[o].line : -1;
    if (le < 0 && li < 0 && lo < 0) break;
    if (le >= 0 && (li < 0 || le <= li) && (lo < 0 || le <= lo))
      print_endpoint(&cfg, &cfg.endpoints[e++]);
    else if (li >= 0 && (lo < 0 || li <= lo))
      print_ingress(&cfg, &cfg.ingresses[i++]);
    else
      print_egress(&cfg, &cfg.egresses[o++]);
  }
  if (!cfg.n_endpoints)
    printf("%s: note: no io.statefun.endpoints document; no function can be "
           "called\n", cfg.path);
  sfl_config_free(&cfg);
  return 0;
}
