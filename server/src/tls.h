/*
 * tls.h - HTTPS and mutual TLS for the function server (tls.c): reading
 * and checking the certificate, key and client CA named in
 * sf_server_options, the libmicrohttpd options that turn them on, and
 * the per-connection check that only a client with a verified
 * certificate is served.
 */
#ifndef STATEFUN_SERVER_TLS_H
#define STATEFUN_SERVER_TLS_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#include <statefun/server.h>

typedef struct sf_tls sf_tls;

/* Reads and checks o->tls_cert, o->tls_key and o->tls_client_ca. Returns
 * NULL with *tls_out NULL when TLS is off (no tls_cert and no tls_key), 0
 * on success; on failure -1 with a reason in `err` (unreadable file, no
 * PEM in it, a key that does not match the certificate, ...). */
int sf_tls_load(const sf_server_options *o, sf_tls **tls_out, char *err,
                size_t err_len);
void sf_tls_free(sf_tls *tls);

/* MHD_USE_TLS when TLS is on, else 0. */
unsigned sf_tls_mhd_flags(const sf_tls *tls);
/* Options for MHD_OPTION_ARRAY: certificate, key, trust and the
 * connection hook that makes client certificates mandatory ({END} when
 * TLS is off). Valid while `tls` lives. */
struct MHD_OptionItem *sf_tls_mhd_options(sf_tls *tls);

/* True when the request may be served: TLS off, no client CA, or the
 * connection's client certificate verifies against the client CA. On
 * false, `why` says what was wrong with the client's certificate. */
bool sf_tls_peer_ok(const sf_tls *tls, struct MHD_Connection *conn,
                    char *why, size_t why_len);

/* "https" or "http", for the start-up line. */
const char *sf_tls_scheme(const sf_tls *tls);
bool sf_tls_mutual(const sf_tls *tls);

#endif /* STATEFUN_SERVER_TLS_H */
