/*
 * sfb/httpresp.h - an incremental parser of one HTTP/1.1 response as a
 * client reads it: status line, the headers a request-reply client needs
 * (Content-Length, Transfer-Encoding: chunked, Connection, every
 * Content-Type), 1xx interim heads skipped, and the body delimited by
 * Content-Length, chunked encoding (decoded in place) or the close.
 *
 * The caller appends what it reads to one buffer and calls
 * sfb_http_resp_parse with the whole buffer each time; the parser resumes
 * where it stopped (nothing is scanned twice). It writes into the buffer:
 * header values are NUL-terminated in place and a chunked body is moved
 * down so that, when done, the body is buf[body_off, body_off + body_len).
 */
#ifndef SFB_HTTPRESP_H
#define SFB_HTTPRESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SFB_HTTP_MAX_HEAD (64 * 1024)
#define SFB_HTTP_MAX_CTYPE 16

enum { SFB_HTTP_MORE = 0, SFB_HTTP_DONE = 1, SFB_HTTP_ERROR = -1 };

typedef struct sfb_http_resp {
  /* the head (valid once head_done) */
  bool head_done;
  int status;
  int64_t content_length;   /* -1: none */
  bool chunked;
  bool close;               /* the server closes after this response */
  size_t ctype_off[SFB_HTTP_MAX_CTYPE]; /* Content-Type values: NUL-terminated */
  size_t n_ctype;                        /* strings at buf + ctype_off[i] */
  /* the body (complete once SFB_HTTP_DONE) */
  size_t body_off;
  size_t body_len;
  size_t used;              /* bytes of the buffer this response took */
  bool too_large;           /* the body passed max_body */
  const char *error;        /* why SFB_HTTP_ERROR (a static string) */
  /* parser position */
  size_t scan, line, cstate, chunk_left;
} sfb_http_resp;

/* Starts a new response (zeroes r). */
void sfb_http_resp_init(sfb_http_resp *r);

/* Parses buf[0, n) (everything read so far; the same buffer, grown, each
 * call). `eof`: the peer has closed, which completes a body delimited by
 * the close and makes any other unfinished response an error. A body over
 * max_body bytes (0: no limit) is an error with too_large set. Returns
 * SFB_HTTP_MORE, SFB_HTTP_DONE or SFB_HTTP_ERROR (r->error). */
int sfb_http_resp_parse(sfb_http_resp *r, uint8_t *buf, size_t n, bool eof, size_t max_body);

#endif /* SFB_HTTPRESP_H */
