/*
 * server_internal.h - what the server's source files share and nobody else
 * sees: the metrics registry (metrics.c) and the symbol-export marker.
 *
 * The library is built with hidden visibility; only the functions declared
 * in <statefun/server.h> are marked SF_SERVER_EXPORT and exported.
 */
#ifndef STATEFUN_SERVER_INTERNAL_H
#define STATEFUN_SERVER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <statefun/server.h>
#include <statefun/statefun.h>

#if defined(__GNUC__)
#define SF_SERVER_EXPORT __attribute__((visibility("default")))
#else
#define SF_SERVER_EXPORT
#endif

/* ---- metrics.c ----------------------------------------------------------- */

/*
 * Counters for /metrics. Updates are relaxed atomics (no locks), so every
 * worker thread records without contention; rendering reads a snapshot
 * that may be a few increments behind, which Prometheus tolerates.
 */
typedef struct sf_server_metrics sf_server_metrics;

/* A registry for the functions of `handler` (fixed once serving). */
sf_server_metrics *sf_server_metrics_new(const sf_handler *handler);
void sf_server_metrics_free(sf_server_metrics *m);

/* One call of sf_handler_handle: its outcome and how long it took. */
void sf_server_metrics_record_batch(sf_server_metrics *m,
                                    const sf_handle_info *info,
                                    sf_status status, uint64_t nanos);
/* One HTTP reply with status `code`. */
void sf_server_metrics_record_status(sf_server_metrics *m, unsigned code);

/* The Prometheus text exposition of everything recorded, plus the gauge
 * of requests in flight; malloc'd (caller frees), NULL when out of memory. */
char *sf_server_metrics_render(const sf_server_metrics *m,
                               const sf_handler *handler, long in_flight,
                               size_t *len);

#endif /* STATEFUN_SERVER_INTERNAL_H */
