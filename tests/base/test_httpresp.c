/*
 * test_httpresp.c - the HTTP/1.1 response parser (sfb/httpresp.h): bodies
 * by Content-Length, chunked (decoded in place) and to the close, fed
 * whole and one byte at a time; interim 1xx heads; every Content-Type
 * kept; Connection and HTTP/1.0 keep-alive rules; the body limit; and the
 * heads that must be refused on a kept-alive connection.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "sfb/httpresp.h"

/* Parses `text` fed `step` bytes at a time (0: all at once), then EOF if
 * `eof`. Returns the last result; *body gets the body bytes. */
static int feed(const char *text, size_t step, bool eof, size_t max, sfb_http_resp *r,
                char *body) {
  size_t n = strlen(text);
  uint8_t *buf = malloc(n + 1);
  memcpy(buf, text, n + 1);
  sfb_http_resp_init(r);
  int rc = SFB_HTTP_MORE;
  for (size_t have = step ? 0 : n; rc == SFB_HTTP_MORE;) {
    if (step) have = have + step > n ? n : have + step;
    rc = sfb_http_resp_parse(r, buf, have, eof && have == n, max);
    if (have == n) break;
  }
  if (rc == SFB_HTTP_DONE && body) {
    memcpy(body, buf + r->body_off, r->body_len);
    body[r->body_len] = '\0';
    for (size_t i = 0; i < r->n_ctype && i < 4; i++)
      strcpy(body + 100 + 50 * i, (char *)buf + r->ctype_off[i]);
  }
  free(buf);
  return rc;
}

Test(httpresp, content_length_whole_and_bytewise) {
  const char *t = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                  "Content-Length: 5\r\n\r\nhelloEXTRA";
  for (size_t step = 0; step <= 1; step++) {
    sfb_http_resp r;
    char body[400];
    cr_assert_eq(feed(t, step, false, 0, &r, body), SFB_HTTP_DONE, "step %zu", step);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(body, "hello");
    cr_assert_eq(r.n_ctype, 1);
    cr_assert_str_eq(body + 100, "application/octet-stream");
    cr_assert_eq(r.used, strlen(t) - 5, "the extra bytes are not this response's");
    cr_assert(!r.close);
  }
}

Test(httpresp, chunked_decoded_in_place) {
  const char *t = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "3\r\nabc\r\n10;ext=1\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n";
  for (size_t step = 0; step <= 1; step++) {
    sfb_http_resp r;
    char body[400];
    cr_assert_eq(feed(t, step, false, 0, &r, body), SFB_HTTP_DONE, "step %zu", step);
    cr_assert_str_eq(body, "abc0123456789abcdef");
    cr_assert_eq(r.used, strlen(t));
  }
}

Test(httpresp, body_to_the_close) {
  const char *t = "HTTP/1.1 200 OK\r\n\r\nuntil close";
  sfb_http_resp r;
  char body[400];
  cr_assert_eq(feed(t, 0, false, 0, &r, body), SFB_HTTP_MORE);
  cr_assert_eq(feed(t, 0, true, 0, &r, body), SFB_HTTP_DONE);
  cr_assert_str_eq(body, "until close");
  cr_assert(r.close);
}

Test(httpresp, interim_heads_and_no_body_statuses) {
  sfb_http_resp r;
  char body[400];
  cr_assert_eq(feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\n"
                    "Content-Length: 2\r\n\r\nno", 1, false, 0, &r, body), SFB_HTTP_DONE);
  cr_assert_eq(r.status, 404);
  cr_assert_str_eq(body, "no");
  cr_assert_eq(feed("HTTP/1.1 204 No Content\r\n\r\n", 0, false, 0, &r, body), SFB_HTTP_DONE);
  cr_assert_eq(r.body_len, 0);
}

Test(httpresp, every_content_type_kept) {
  sfb_http_resp r;
  char body[400];
  cr_assert_eq(feed("HTTP/1.1 200 OK\r\ncontent-type:  text/plain \r\n"
                    "Content-Type: application/octet-stream\r\nContent-Length: 0\r\n\r\n",
                    0, false, 0, &r, body), SFB_HTTP_DONE);
  cr_assert_eq(r.n_ctype, 2);
  cr_assert_str_eq(body + 100, "text/plain");
  cr_assert_str_eq(body + 150, "application/octet-stream");
}

Test(httpresp, connection_rules) {
  sfb_http_resp r;
  cr_assert_eq(feed("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n", 0,
                    false, 0, &r, NULL), SFB_HTTP_DONE);
  cr_assert(r.close);
  cr_assert_eq(feed("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0, false, 0, &r, NULL),
               SFB_HTTP_DONE);
  cr_assert(r.close, "HTTP/1.0 closes by default");
  cr_assert_eq(feed("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
                    0, false, 0, &r, NULL), SFB_HTTP_DONE);
  cr_assert(!r.close);
}

Test(httpresp, body_limit) {
  sfb_http_resp r;
  cr_assert_eq(feed("HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n", 0, false, 16, &r, NULL),
               SFB_HTTP_ERROR, "refused from the head, before the body arrives");
  cr_assert(r.too_large);
  cr_assert_eq(feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n", 1, false, 16, &r, NULL),
               SFB_HTTP_ERROR);
  cr_assert(r.too_large);
  cr_assert_eq(feed("HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n0123456789abcdef", 0, false,
                    16, &r, NULL), SFB_HTTP_DONE, "exactly the limit passes");
}

Test(httpresp, refused) {
  static const char *const bad[] = {
      "HTTP/2 200 OK\r\n\r\n",
      "HTTP/1.1 2x0 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
      "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    sfb_http_resp r;
    cr_assert_eq(feed(bad[i], 0, false, 0, &r, NULL), SFB_HTTP_ERROR, "%s", bad[i]);
    cr_assert_not_null(r.error);
  }
}

Test(httpresp, closed_early) {
  sfb_http_resp r;
  cr_assert_eq(feed("", 0, true, 0, &r, NULL), SFB_HTTP_ERROR);
  cr_assert_str_eq(r.error, "connection closed before a response");
  cr_assert_eq(feed("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", 0, true, 0, &r, NULL),
               SFB_HTTP_ERROR);
  cr_assert_eq(feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab", 0, true, 0,
                    &r, NULL), SFB_HTTP_ERROR);
}
