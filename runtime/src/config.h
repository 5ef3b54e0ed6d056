/*
 * config.h - sf-local's view of a StateFun 3.x module.yaml.
 *
 * sf-local reads the same file Flink reads. Of its documents it uses:
 *   io.statefun.endpoints.v2/http (and v1): which function types go to
 *     which URL, batching limit, timeouts;
 *   io.statefun.kafka.v1/ingress, io.statefun.kinesis.v1/ingress: which
 *     topics/streams feed which function types with which value type (sf-local
 *     serves them on its HTTP ingress by topic);
 *   io.statefun.kafka.v1/egress, io.statefun.kinesis.v1/egress: the egress
 *     ids (sf-local keeps their records for its HTTP egress).
 *   io.statefun.playground.v1/ingress and /egress (the playground's HTTP
 *     ingress and egress, as in apache/flink-statefun-playground files).
 * It also reads the legacy single-document format (version: "3.0",
 * module: spec: endpoints/ingresses/egresses) as Flink 3.x still does.
 * Everything else in those documents (Kafka addresses, properties, AWS
 * credentials, ...) is checked for shape and otherwise ignored.
 * docs/sf-local-config.md lists what is checked and what is ignored.
 */
#ifndef SF_LOCAL_CONFIG_H
#define SF_LOCAL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sfl_transport {
  SFL_TRANSPORT_ASYNC,  /* io.statefun.transports.v1/async (v2 default) */
  SFL_TRANSPORT_OKHTTP  /* io.statefun.transports.v1/okhttp (and every v1) */
} sfl_transport;

/* One HTTP endpoint document. */
typedef struct sfl_endpoint {
  char *functions;           /* "ns/name", or "ns/" + '*' for all */
  char *url_template;        /* may contain "{function.name}" */
  uint32_t max_batch;        /* maxNumBatchRequests, default 1000; 0: no
                                limit (<= 0 in the file, as in Flink) */
  int64_t call_timeout_ms;   /* transport call, default 120000 (v2 async) */
  int64_t connect_timeout_ms;/* transport connect, default 20000 */
  int line;                  /* where the document starts (1-based) */
  /* Extensions (sf-local only reads what it needs of them): */
  sfl_transport transport;
  int64_t read_timeout_ms;   /* okhttp only (default 10000), else 0 */
  int64_t write_timeout_ms;  /* okhttp only (default 10000), else 0 */
  uint32_t payload_max_bytes;/* async payload_max_bytes (default 32 MiB);
                                0 for okhttp (no limit) */
  bool unix_socket;          /* url is http+unix:// (sf-local can't call it) */
  /* https:// with the async transport's TLS keys (NettyRequestReplySpec):
   * local file paths ("file:" removed), NULL when the key is absent. */
  char *trust_cacerts;       /* CA certificates; NULL: the system's store */
  char *client_cert;         /* mutual TLS: PEM certificate (chain) ... */
  char *client_key;          /* ... and its PKCS#8 PEM key */
  char *client_key_password; /* the whole content of the password file */
} sfl_endpoint;

/* One routed topic of an ingress (Kafka topic or Kinesis stream). */
typedef struct sfl_route {
  char *topic;       /* topic or stream name */
  char *value_type;  /* typename of the values, "ns/name" */
  char **targets;    /* function types "ns/name" */
  size_t n_targets;
} sfl_route;

typedef enum sfl_io_kind {
  SFL_KAFKA,
  SFL_KINESIS,
  SFL_PLAYGROUND /* io.statefun.playground.v1: id io.statefun.playground/
                    ingress|egress, HTTP on `port`, routed by URL path */
} sfl_io_kind;

typedef struct sfl_ingress {
  char *id;          /* "ns/name" */
  sfl_io_kind kind;
  sfl_route *routes;   /* none for SFL_PLAYGROUND */
  size_t n_routes;
  int port;            /* SFL_PLAYGROUND: spec.port (default 8090), else 0 */
  int line;            /* where the document starts (1-based) */
} sfl_ingress;

typedef struct sfl_egress {
  char *id;          /* "ns/name" */
  sfl_io_kind kind;
  bool exactly_once; /* Kafka deliverySemantic exactly-once */
  int port;          /* SFL_PLAYGROUND: spec.port (default 8091), else 0 */
  char **topics;     /* SFL_PLAYGROUND: spec.topics */
  size_t n_topics;
  int line;          /* where the document starts (1-based) */
} sfl_egress;

typedef struct sfl_config {
  char *path;
  sfl_endpoint *endpoints;
  size_t n_endpoints;
  sfl_ingress *ingresses;
  size_t n_ingresses;
  sfl_egress *egresses;
  size_t n_egresses;
} sfl_config;

/*
 * Parses `path`. On success returns 0 and fills *out (free with
 * sfl_config_free). On failure returns -1 and writes one message of the form
 * "path:line:col: message" into err (NUL-terminated, at most err_len bytes).
 * Line and column are 1-based and point at the offending node.
 */
int sfl_config_load(const char *path, sfl_config *out, char *err, size_t err_len);

/* Same, from a buffer; `name` is used as the path in messages. */
int sfl_config_parse(const char *name, const char *text, size_t len,
                     sfl_config *out, char *err, size_t err_len);

void sfl_config_free(sfl_config *cfg);

/*
 * The endpoint serving function type `typename` ("ns/name"), or NULL.
 * A specific "ns/name" pattern wins over a namespace wildcard (as in
 * StateFun).
 */
const sfl_endpoint *sfl_config_endpoint_for(const sfl_config *cfg,
                                            const char *typename);

/* The URL for a function type: the endpoint's template with
 * "{function.name}" replaced by the type's name part. malloc'd. */
char *sfl_endpoint_url(const sfl_endpoint *ep, const char *typename);

#endif
