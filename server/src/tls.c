/*
 * tls.c - HTTPS and mutual TLS for the function server.
 *
 * libmicrohttpd does the TLS (GnuTLS) once it has the certificate and key
 * in memory. What it does not do is insist on client certificates: given
 * a trust list (MHD_OPTION_HTTPS_MEM_TRUST) 0.9.75 only *requests* one
 * (GNUTLS_CERT_REQUEST) and verifies nothing, so a client without a
 * certificate, or with one from another CA, completes the handshake. Two
 * guards close that:
 *   - a connection hook (MHD_OPTION_NOTIFY_CONNECTION, called after MHD
 *     made the GnuTLS session and before the handshake) switches the
 *     session to GNUTLS_CERT_REQUIRE and has GnuTLS verify the chain
 *     against the client CA during the handshake, so such a client is
 *     refused with a TLS alert before it can send a byte of HTTP;
 *   - every request checks the peer again (sf_tls_peer_ok): the
 *     handshake's verification result, or gnutls_certificate_verify_peers2
 *     for a session that has none, and is answered 403 if the session does
 *     not carry a verified certificate.
 * Files are read and checked here, before MHD sees them, so a bad file
 * gets a sentence naming it rather than "GnuTLS failed".
 */
#include "tls.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A PEM file bigger than this is not a certificate bundle. */
#define MAX_PEM_FILE ((size_t)4 * 1024 * 1024)

struct sf_tls {
  char *cert;
  char *key;
  char *client_ca; /* NULL: no client certificates asked for */
  struct MHD_OptionItem opts[5];
};

static int fail(char *err, size_t err_len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int fail(char *err, size_t err_len, const char *fmt, ...) {
  if (err != NULL && err_len > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* The whole file as a NUL-terminated string; NULL with a reason. */
static char *read_pem(const char *what, const char *path, char *err,
                      size_t err_len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fail(err, err_len, "cannot read %s '%s': %s", what, path, strerror(errno));
    return NULL;
  }
  char *buf = malloc(MAX_PEM_FILE + 1);
  size_t n = buf != NULL ? fread(buf, 1, MAX_PEM_FILE + 1, f) : 0;
  int bad = ferror(f);
  fclose(f);
  if (buf == NULL || bad || n > MAX_PEM_FILE || n == 0) {
    fail(err, err_len, "cannot read %s '%s': %s", what, path,
         buf == NULL ? "out of memory"
         : bad       ? "read error"
         : n == 0    ? "the file is empty"
                     : "larger than 4 MiB");
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  if (strlen(buf) != n) {
    fail(err, err_len, "%s '%s' is not a PEM file (it holds a NUL byte; "
         "convert DER with 'openssl x509 -outform PEM')", what, path);
    free(buf);
    return NULL;
  }
  return buf;
}

static gnutls_datum_t datum(const char *text) {
  gnutls_datum_t d = {(unsigned char *)(uintptr_t)text,
                      (unsigned int)strlen(text)};
  return d;
}

/* At least one PEM certificate; the count, or -1 with a reason. */
static int count_certs(const char *what, const char *path, const char *pem,
                       char *err, size_t err_len) {
  gnutls_x509_crt_t *crts = NULL;
  unsigned n = 0;
  gnutls_datum_t d = datum(pem);
  int r = gnutls_x509_crt_list_import2(&crts, &n, &d, GNUTLS_X509_FMT_PEM, 0);
  if (r < 0 || n == 0)
    return fail(err, err_len,
                "%s '%s' holds no PEM certificate (-----BEGIN CERTIFICATE-----"
                "): %s",
                what, path, r < 0 ? gnutls_strerror(r) : "none found");
  for (unsigned i = 0; i < n; i++) gnutls_x509_crt_deinit(crts[i]);
  gnutls_free(crts);
  return (int)n;
}

/* The key parses and belongs to the certificate. */
static int check_pair(const sf_server_options *o, const char *cert,
                      const char *key, char *err, size_t err_len) {
  gnutls_x509_privkey_t pk;
  if (gnutls_x509_privkey_init(&pk) < 0)
    return fail(err, err_len, "out of memory");
  gnutls_datum_t kd = datum(key);
  int r = gnutls_x509_privkey_import2(pk, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
  gnutls_x509_privkey_deinit(pk);
  if (r < 0)
    return fail(err, err_len,
                "--tls-key '%s' holds no usable PEM private key: %s%s",
                o->tls_key, gnutls_strerror(r),
                r == GNUTLS_E_DECRYPTION_FAILED
                    ? " (encrypted keys are not supported: decrypt it with "
                      "'openssl pkey -in KEY -out KEY.plain')"
                    : "");
  gnutls_certificate_credentials_t cred;
  if (gnutls_certificate_allocate_credentials(&cred) < 0)
    return fail(err, err_len, "out of memory");
  gnutls_datum_t cd = datum(cert);
  r = gnutls_certificate_set_x509_key_mem2(cred, &cd, &kd, GNUTLS_X509_FMT_PEM,
                                           NULL, 0);
  gnutls_certificate_free_credentials(cred);
  if (r == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
    return fail(err, err_len,
                "--tls-key '%s' does not belong to the certificate in "
                "--tls-cert '%s' (the first certificate of the file must be "
                "the server's own)",
                o->tls_key, o->tls_cert);
  if (r < 0)
    return fail(err, err_len, "--tls-cert '%s' with --tls-key '%s': %s",
                o->tls_cert, o->tls_key, gnutls_strerror(r));
  return 0;
}

/* MHD_CONNECTION_NOTIFY_STARTED: the session exists, no handshake yet. */
static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
  (void)cls;
  (void)socket_context;
  if (toe != MHD_CONNECTION_NOTIFY_STARTED) return;
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (ci == NULL || ci->tls_session == NULL) return; /* sf_tls_peer_ok refuses */
  gnutls_session_t session = (gnutls_session_t)ci->tls_session;
  gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
  /* Chain against the trust list (the client CA) in the handshake; no
   * host name, as a client certificate names a client, not a host. */
  gnutls_session_set_verify_cert(session, NULL, 0);
}

int sf_tls_load(const sf_server_options *o, sf_tls **tls_out, char *err,
                size_t err_len) {
  *tls_out = NULL;
  bool has_cert = o->tls_cert != NULL && o->tls_cert[0] != '\0';
  bool has_key = o->tls_key != NULL && o->tls_key[0] != '\0';
  bool has_ca = o->tls_client_ca != NULL && o->tls_client_ca[0] != '\0';
  if (!has_cert && !has_key) {
    if (has_ca)
      return fail(err, err_len,
                  "--tls-client-ca needs --tls-cert and --tls-key (client "
                  "certificates are asked for over HTTPS only)");
    return 0;
  }
  if (has_cert != has_key)
    return fail(err, err_len, "%s needs %s too", has_cert ? "--tls-cert" : "--tls-key",
                has_cert ? "--tls-key" : "--tls-cert");
  if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
    return fail(err, err_len,
                "this libmicrohttpd was built without TLS (GnuTLS)");
  sf_tls *t = calloc(1, sizeof *t);
  if (t == NULL) return fail(err, err_len, "out of memory");
  t->cert = read_pem("--tls-cert", o->tls_cert, err, err_len);
  t->key = t->cert ? read_pem("--tls-key", o->tls_key, err, err_len) : NULL;
  if (t->key == NULL ||
      count_certs("--tls-cert", o->tls_cert, t->cert, err, err_len) < 0 ||
      check_pair(o, t->cert, t->key, err, err_len) < 0)
    goto bad;
  if (has_ca) {
    t->client_ca = read_pem("--tls-client-ca", o->tls_client_ca, err, err_len);
    if (t->client_ca == NULL ||
        count_certs("--tls-client-ca", o->tls_client_ca, t->client_ca, err,
                    err_len) < 0)
      goto bad;
  }
  size_t i = 0;
  t->opts[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, t->cert};
  t->opts[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, t->key};
  if (t->client_ca != NULL) {
    t->opts[i++] =
        (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, t->client_ca};
    t->opts[i++] = (struct MHD_OptionItem){
        MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, NULL};
  }
  t->opts[i] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
  *tls_out = t;
  return 0;
bad:
  sf_tls_free(t);
  return -1;
}

void sf_tls_free(sf_tls *tls) {
  if (tls == NULL) return;
  free(tls->cert);
  if (tls->key != NULL) { /* the key does not outlive the server */
    memset(tls->key, 0, strlen(tls->key));
    free(tls->key);
  }
  free(tls->client_ca);
  free(tls);
}

unsigned sf_tls_mhd_flags(const sf_tls *tls) {
  return tls != NULL ? MHD_USE_TLS : 0;
}

struct MHD_OptionItem *sf_tls_mhd_options(sf_tls *tls) {
  static struct MHD_OptionItem none[] = {{MHD_OPTION_END, 0, NULL}};
  return tls != NULL ? tls->opts : none;
}

bool sf_tls_peer_ok(const sf_tls *tls, struct MHD_Connection *conn, char *why,
                    size_t why_len) {
  if (tls == NULL || tls->client_ca == NULL) return true;
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (ci == NULL || ci->tls_session == NULL) {
    fail(why, why_len, "no TLS session");
    return false;
  }
  gnutls_session_t session = (gnutls_session_t)ci->tls_session;
  unsigned n = 0;
  if (gnutls_certificate_get_peers(session, &n) == NULL || n == 0) {
    fail(why, why_len, "a client certificate is required (--tls-client-ca)");
    return false;
  }
  /* The handshake verified the chain (on_connection): its result costs
   * nothing to read, while verifying again costs about 1 ms a request
   * (ECDSA P-256 here). Only a session the hook did not reach is verified
   * now. */
  unsigned status = gnutls_session_get_verify_cert_status(session);
  int r = 0;
  if (status == (unsigned)-1) r = gnutls_certificate_verify_peers2(session, &status);
  if (r < 0) {
    fail(why, why_len, "client certificate not verified: %s",
         gnutls_strerror(r));
    return false;
  }
  if (status != 0) {
    gnutls_datum_t text = {NULL, 0};
    if (gnutls_certificate_verification_status_print(
            status, GNUTLS_CRT_X509, &text, 0) == 0 && text.data != NULL) {
      fail(why, why_len, "client certificate not trusted: %s",
           (const char *)text.data);
      gnutls_free(text.data);
    } else {
      fail(why, why_len, "client certificate not trusted");
    }
    return false;
  }
  return true;
}

const char *sf_tls_scheme(const sf_tls *tls) {
  return tls != NULL ? "https" : "http";
}

bool sf_tls_mutual(const sf_tls *tls) {
  return tls != NULL && tls->client_ca != NULL;
}
