/*
 * sfb/urlpart.h - the pieces of an HTTP request line our servers decode
 * themselves: one percent-encoded path part or query value, a name part,
 * a function address /<namespace>/<type>/<id>, and a `?wait=SECONDS`
 * value. sf-local's HTTP front and sf-gateway read URLs by the same rules
 * (and answer the same reasons) with these.
 */
#ifndef SFB_URLPART_H
#define SFB_URLPART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Percent-decodes in[0..len) into out (room for len + 1 bytes) and
 * NUL-terminates it. `plus_is_space` for query values. Returns the decoded
 * length, or -1 for a bad escape, a %00 or a NUL byte. */
long sfb_percent_decode(const char *in, size_t len, bool plus_is_space,
                        char *out);

/* The same into a fresh malloc'd string; NULL on a bad escape (or out of
 * memory). */
char *sfb_percent_decode_dup(const char *in, size_t len, bool plus_is_space);

/* True when s has a control character (below 0x20, or 0x7F). */
bool sfb_has_control(const char *s);

/* A decoded name part (namespace, type, topic, ...): not empty (unless
 * allow_empty), no '/', valid UTF-8, no control characters. -1 with the
 * reason in err ("empty namespace", "the topic must not contain '/'"). */
int sfb_check_name(const char *what, const char *s, bool allow_empty, char *err,
                   size_t err_len);

/* A function address "/<namespace>/<type>/<id>", each part decoded by
 * itself (the id is all the rest, '/' included; "%2F" stays inside a
 * part). 0 with *fn_typename "<namespace>/<type>" and *id (malloc'd); -1
 * with the reason in err, e.g. "expected /<namespace>/<type>/<id> (no
 * id)", "bad percent-encoding in the path (or %00)", "the id contains
 * control characters". */
int sfb_parse_address(const char *path, char **fn_typename, char **id,
                      char *err, size_t err_len);

/* "?wait=S": seconds as digits and one optional '.', e.g. 5, 0.5, .25 ->
 * milliseconds, capped at max_ms. -1 when malformed. */
int64_t sfb_parse_wait(const char *s, int64_t max_ms);

#endif /* SFB_URLPART_H */
