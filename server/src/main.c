/*
 * main.c - the process around a server: command-line parsing for
 * sf_server_main() and the SIGINT/SIGTERM wait of
 * sf_server_wait_for_signal().
 *
 * Signals are caught with a handler that writes to a pipe (the self-pipe
 * trick) rather than with sigwait(): MHD's worker threads were created
 * with the signals unblocked, so a sigwait() in one thread would race
 * them. After the first signal the previous dispositions come back, so a
 * second Ctrl-C during the drain ends the process at once.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <statefun/entity.h>

#include "server_internal.h"

/* ---- signals ------------------------------------------------------------- */

static int g_signal_pipe[2] = {-1, -1};
static volatile sig_atomic_t g_signal;
static struct sigaction g_old_int, g_old_term;

static void on_signal(int sig) {
  int saved = errno;
  g_signal = sig;
  if (g_signal_pipe[1] >= 0) {
    ssize_t w = write(g_signal_pipe[1], "s", 1);
    (void)w;
  }
  errno = saved;
}

/* Starts catching SIGINT and SIGTERM. */
static sf_status signals_catch(void) {
  if (g_signal_pipe[0] >= 0) return SF_OK; /* already catching */
  if (pipe2(g_signal_pipe, O_CLOEXEC) != 0) return SF_ERR_IO;
  g_signal = 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
  return SF_OK;
}

/* Restores the old handlers and closes the pipe. */
static void signals_release(void) {
  sigaction(SIGINT, &g_old_int, NULL);
  sigaction(SIGTERM, &g_old_term, NULL);
  close(g_signal_pipe[0]);
  close(g_signal_pipe[1]);
  g_signal_pipe[0] = g_signal_pipe[1] = -1;
}

/* Blocks until a caught signal arrives, then stops catching. */
static int signals_wait(void) {
  char c;
  for (;;) {
    ssize_t r = read(g_signal_pipe[0], &c, 1);
    if (r == 1 || (r < 0 && errno != EINTR)) break;
  }
  signals_release();
  return (int)g_signal;
}

static const char *signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

SF_SERVER_EXPORT
sf_status sf_server_wait_for_signal(sf_server *server) {
  if (server == NULL) return SF_ERR_INVALID_ARGUMENT;
  sf_status st = signals_catch();
  if (st != SF_OK) return st;
  signals_wait();
  sf_server_stop(server);
  return SF_OK;
}

/* ---- command line -------------------------------------------------------- */

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash != NULL ? slash + 1 : path;
}

static void usage(FILE *out, const char *prog) {
  fprintf(out,
          "Usage: %s [OPTIONS]\n"
          "\n"
          "Serves Apache Flink StateFun remote functions over HTTP: the\n"
          "runtime POSTs ToFunction requests to http://HOST:PORT/statefun\n"
          "(or /statefun/<anything>) and gets FromFunction replies.\n"
          "\n"
          "Options:\n"
          "  --listen HOST:PORT  address to listen on (default 127.0.0.1:8000;\n"
          "                      0.0.0.0:8000 for every interface, [::1]:8000\n"
          "                      for IPv6, port 0 for any free port)\n"
          "  --threads N         worker threads (default: one per online core)\n"
          "  --max-body SIZE     request body limit in bytes, with an optional\n"
          "                      k or m suffix (default 16m)\n"
          "  --path-prefix P     URL prefix of the function endpoint\n"
          "                      (default: any path but /health, /metrics)\n"
          "  --tls-cert FILE     serve HTTPS with this PEM certificate (chain)\n"
          "  --tls-key FILE      and this unencrypted PEM private key\n"
          "  --tls-client-ca FILE  mutual TLS: require a client certificate\n"
          "                      issued by a CA in this PEM file (Flink's\n"
          "                      transport client_cert/client_key)\n"
          "  --head-timeout S    a request head must be complete S seconds\n"
          "                      after its connection opened or its request\n"
          "                      line came, however it trickles (default 10)\n"
          "  --body-timeout S    its body, S seconds after the head (default 30)\n"
          "  --idle-timeout S    close keep-alive connections idle S seconds\n"
          "                      (default 30; keep it above Flink's pool_ttl,\n"
          "                      15 s, plus 3)\n"
          "  --max-connections N  open connections (default 4096)\n"
          "  --max-connections-per-client N  from one IP address (default\n"
          "                      1024, Flink's pool size per task manager)\n"
          "  --max-inflight-bytes SIZE  request bodies buffered at once;\n"
          "                      beyond, 503 + Retry-After (default 256m)\n"
          "  --max-invocations N  invocations in one batch; beyond, 413\n"
          "                      (default 10000; Flink's maxNumBatchRequests\n"
          "                      is 1000 by default)\n"
          "  --max-state-values N  state values in one request; beyond, 413\n"
          "                      (default 10000)\n"
          "  --quiet             no start-up and shutdown lines on stderr\n"
          "  --trace-out FILE    write entity spans as OTLP/JSON lines to FILE\n"
          "                      ('-' = stdout; docs/tracing.md)\n"
          "  --help              show this help and exit\n"
          "\n"
          "Endpoints: POST <prefix>[/...], GET /health, GET /metrics.\n"
          "SIGTERM or SIGINT drains requests in flight and exits 0.\n"
          "\n"
          "Examples:\n"
          "  %s --listen 0.0.0.0:8000\n"
          "  %s --listen 127.0.0.1:9000 --threads 4 --max-body 32m\n"
          "  curl -s http://127.0.0.1:8000/health\n"
          "  %s --tls-cert server.pem --tls-key server.key \\\n"
          "     --tls-client-ca flink-ca.pem   (see docs/tls.md)\n"
          "\n"
          "In module.yaml:\n"
          "  kind: io.statefun.endpoints.v2/http\n"
          "  spec:\n"
          "    functions: <namespace>/*\n"
          "    urlPathTemplate: http://<this host>:8000/statefun/{function.name}\n",
          prog, prog, prog, prog);
}

typedef struct cli {
  sf_server_options options;
  char host[256];
  bool help;
} cli;

/* Parses a decimal number of at most `max`; false if it is anything else. */
static bool parse_uint(const char *text, unsigned long long max,
                       unsigned long long *out, const char **rest) {
  if (*text < '0' || *text > '9') return false;
  errno = 0;
  char *end = NULL;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno != 0 || v > max) return false;
  if (rest != NULL)
    *rest = end;
  else if (*end != '\0')
    return false;
  *out = v;
  return true;
}

/* HOST:PORT, [IPV6]:PORT, :PORT or PORT. */
static bool parse_listen(const char *text, cli *c, char *why, size_t why_len) {
  const char *host = NULL;
  size_t host_len = 0;
  const char *port_text;
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (close == NULL || close[1] != ':') {
      snprintf(why, why_len, "bad --listen '%s': expected [IPV6]:PORT", text);
      return false;
    }
    host = text + 1;
    host_len = (size_t)(close - host);
    port_text = close + 2;
  } else {
    const char *colon = strrchr(text, ':');
    if (colon == NULL) {
      port_text = text;
    } else {
      host = text;
      host_len = (size_t)(colon - text);
      port_text = colon + 1;
    }
  }
  unsigned long long port = 0;
  if (!parse_uint(port_text, 65535, &port, NULL)) {
    snprintf(why, why_len,
             "bad --listen '%s': expected HOST:PORT with a port 0-65535", text);
    return false;
  }
  if (host_len >= sizeof c->host) {
    snprintf(why, why_len, "bad --listen '%s': host too long", text);
    return false;
  }
  if (host != NULL && host_len > 0) {
    memcpy(c->host, host, host_len);
    c->host[host_len] = '\0';
  }
  c->options.port = (uint16_t)port;
  return true;
}

/* 1048576, 1024k, 16m (binary multiples). */
static bool parse_size(const char *text, size_t *out) {
  const char *rest = NULL;
  unsigned long long v = 0;
  if (!parse_uint(text, ~0ull, &v, &rest)) return false;
  unsigned shift = 0;
  if (*rest == 'k' || *rest == 'K')
    shift = 10;
  else if (*rest == 'm' || *rest == 'M')
    shift = 20;
  else if (*rest == 'g' || *rest == 'G')
    shift = 30;
  else if (*rest != '\0')
    return false;
  if (shift != 0 && rest[1] != '\0') return false;
  if (v == 0 || v > (SIZE_MAX >> shift) || (v << shift) > SIZE_MAX / 2)
    return false;
  *out = (size_t)(v << shift);
  return true;
}

/* The whole-number limits: option name -> field of sf_server_options. */
static const char *limit_option(const char *name) {
  static const char *const names[] = {
      "--head-timeout", "--body-timeout", "--idle-timeout",
      "--max-connections", "--max-connections-per-client"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i]) == 0) return names[i];
  return NULL;
}

static unsigned *limit_option_field(sf_server_options *o, const char *name) {
  if (strcmp(name, "--head-timeout") == 0) return &o->head_timeout_s;
  if (strcmp(name, "--body-timeout") == 0) return &o->body_timeout_s;
  if (strcmp(name, "--idle-timeout") == 0) return &o->idle_timeout_s;
  if (strcmp(name, "--max-connections") == 0) return &o->max_connections;
  return &o->max_connections_per_client;
}

/* Parses argv into `c`; on bad usage writes a reason and returns false. */
static bool parse_args(int argc, char **argv, cli *c, char *why,
                       size_t why_len) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      c->help = true;
      continue;
    }
    if (strcmp(arg, "--quiet") == 0 || strcmp(arg, "-q") == 0) {
      c->options.quiet = 1;
      continue;
    }
    /* Options with a value: "--name value" or "--name=value". */
    static const char *const with_value[] = {
        "--listen",   "--threads", "--max-body",     "--path-prefix",
        "--tls-cert", "--tls-key", "--tls-client-ca",
        /* a name that begins another one comes after it */
        "--head-timeout", "--body-timeout", "--idle-timeout",
        "--max-connections-per-client", "--max-connections",
        "--max-inflight-bytes", "--max-invocations", "--max-state-values"};
    const char *name = NULL;
    const char *value = NULL;
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) {
      size_t n = strlen(with_value[k]);
      if (strncmp(arg, with_value[k], n) != 0) continue;
      if (arg[n] == '\0') {
        if (i + 1 >= argc) {
          snprintf(why, why_len, "option %s needs a value", with_value[k]);
          return false;
        }
        name = with_value[k];
        value = argv[++i];
      } else if (arg[n] == '=') {
        name = with_value[k];
        value = arg + n + 1;
      }
      break;
    }
    if (name == NULL) {
      snprintf(why, why_len, "unknown %s '%s'",
               arg[0] == '-' ? "option" : "argument", arg);
      return false;
    }
    if (strcmp(name, "--listen") == 0) {
      if (!parse_listen(value, c, why, why_len)) return false;
    } else if (strcmp(name, "--threads") == 0) {
      unsigned long long n = 0;
      if (!parse_uint(value, 1024, &n, NULL) || n == 0) {
        snprintf(why, why_len, "bad --threads '%s': expected 1 to 1024", value);
        return false;
      }
      c->options.threads = (unsigned)n;
    } else if (strcmp(name, "--max-body") == 0) {
      if (!parse_size(value, &c->options.max_body)) {
        snprintf(why, why_len,
                 "bad --max-body '%s': expected a positive size such as "
                 "1048576, 512k or 16m",
                 value);
        return false;
      }
    } else if (strcmp(name, "--max-inflight-bytes") == 0) {
      if (!parse_size(value, &c->options.max_inflight_bytes)) {
        snprintf(why, why_len,
                 "bad --max-inflight-bytes '%s': expected a positive size "
                 "such as 64m",
                 value);
        return false;
      }
    } else if (strcmp(name, "--max-invocations") == 0 ||
               strcmp(name, "--max-state-values") == 0) {
      unsigned long long n = 0;
      if (!parse_uint(value, 100000000, &n, NULL) || n == 0) {
        snprintf(why, why_len, "bad %s '%s': expected 1 to 100000000", name,
                 value);
        return false;
      }
      if (name[6] == 'i') /* --max-invocations */
        c->options.max_invocations = (size_t)n;
      else
        c->options.max_state_values = (size_t)n;
    } else if (limit_option(name) != NULL) {
      unsigned long long n = 0;
      if (!parse_uint(value, 86400, &n, NULL) || n == 0) {
        snprintf(why, why_len, "bad %s '%s': expected 1 to 86400", name,
                 value);
        return false;
      }
      *limit_option_field(&c->options, name) = (unsigned)n;
    } else if (strcmp(name, "--tls-cert") == 0) {
      c->options.tls_cert = value; /* read and checked by sf_server_start */
    } else if (strcmp(name, "--tls-key") == 0) {
      c->options.tls_key = value;
    } else if (strcmp(name, "--tls-client-ca") == 0) {
      c->options.tls_client_ca = value;
    } else { /* --path-prefix */
      if (value[0] != '/' || strlen(value) > 200) {
        snprintf(why, why_len,
                 "bad --path-prefix '%s': expected a path starting with '/'",
                 value);
        return false;
      }
      c->options.path_prefix = value;
    }
  }
  return true;
}

/* Takes "--trace-out FILE" (or "=FILE") out of argv and turns tracing on
 * (docs/tracing.md). False with a reason when it is bad. */
static bool trace_option(int *argc, char **argv, char *why, size_t why_len) {
  static const char opt[] = "--trace-out";
  const size_t n = sizeof opt - 1;
  for (int i = 1; i < *argc; i++) {
    if (strncmp(argv[i], opt, n) != 0 || (argv[i][n] != '\0' && argv[i][n] != '='))
      continue;
    int used = argv[i][n] == '=' ? 1 : 2;
    const char *path = used == 1 ? argv[i] + n + 1 : (i + 1 < *argc ? argv[i + 1] : NULL);
    if (path == NULL || path[0] == '\0') {
      snprintf(why, why_len, "option --trace-out needs a value (a file or -)");
      return false;
    }
    if (sf_trace_open(path) != SF_OK) {
      snprintf(why, why_len, "--trace-out %s: %s", path, strerror(errno));
      return false;
    }
    for (int k = i; k + used <= *argc; k++) argv[k] = argv[k + used];
    *argc -= used;
    i--;
  }
  return true;
}

SF_SERVER_EXPORT
int sf_server_main(const sf_handler *handler, int argc, char **argv) {
  const char *prog =
      argc > 0 && argv != NULL && argv[0] != NULL ? base_name(argv[0])
                                                  : "statefun";
  cli c;
  memset(&c, 0, sizeof c);
  snprintf(c.host, sizeof c.host, "127.0.0.1");
  c.options.port = 8000;
  char why[512];
  if (!trace_option(&argc, argv, why, sizeof why) ||
      !parse_args(argc, argv, &c, why, sizeof why)) {
    fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", prog,
            why, prog);
    return 2;
  }
  if (c.help) {
    usage(stdout, prog);
    return 0;
  }
  if (handler == NULL) {
    fprintf(stderr, "%s: no handler\n", prog);
    return 1;
  }
  c.options.host = c.host;

  /* Writing to a client that went away must not kill the process. */
  signal(SIGPIPE, SIG_IGN);
  /* Catch signals before serving, so that a SIGTERM sent as soon as the
   * port answers is a clean shutdown too. */
  if (signals_catch() != SF_OK) {
    fprintf(stderr, "%s: cannot set up signal handling: %s\n", prog,
            strerror(errno));
    return 1;
  }
  sf_status st = SF_OK;
  char err[512];
  sf_server *server = sf_server_start(handler, &c.options, &st, err, sizeof err);
  if (server == NULL) {
    fprintf(stderr, "%s: %s\n", prog, err);
    signals_release();
    return st == SF_ERR_INVALID_ARGUMENT ? 2 : 1;
  }
  int sig = signals_wait();
  if (!c.options.quiet)
    fprintf(stderr, "statefun: %s received, shutting down\n",
            signal_name(sig));
  sf_server_stop(server);
  return 0;
}
