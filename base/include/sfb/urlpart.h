/*
 * sfb/urlpart.h - the pieces of an HTTP request line our servers decode
 * themselves: one percent-encoded path part or query value, and a
 * `?wait=SECONDS` value. sf-local's HTTP front and sf-gateway read URLs by
 * the same rules with these.
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

/* "?wait=S": seconds as digits and one optional '.', e.g. 5, 0.5, .25 ->
 * milliseconds, capped at max_ms. -1 when malformed. */
int64_t sfb_parse_wait(const char *s, int64_t max_ms);

#endif /* SFB_URLPART_H */
