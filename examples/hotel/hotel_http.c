/*
 * hotel_http.c - JSON POSTs over one libcurl multi handle (hotel_http.h):
 * the connection set-up and the transfer loop shared by hotel-init and
 * bench/hotel_load.c.
 */
#include "hotel_http.h"

#include <stdlib.h>
#include <string.h>

/* Appends to the connection's answer, NUL-terminated (a JSON parser reads
 * it); a failed growth fails the transfer. */
static size_t on_data(char *ptr, size_t size, size_t n, void *ud) {
  sfb_buf *b = &((hotel_http_conn *)ud)->resp;
  size_t len = size * n;
  sfb_buf_put(b, ptr, len);
  sfb_buf_put(b, "", 1);
  b->len--;
  return b->oom ? 0 : len;
}

bool hotel_http_open(hotel_http *p, size_t n, long timeout_ms) {
  memset(p, 0, sizeof *p);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return false;
  p->multi = curl_multi_init();
  p->hdr = curl_slist_append(NULL, "Content-Type: application/json");
  struct curl_slist *both = p->hdr ? curl_slist_append(p->hdr, "Expect:") : NULL;
  if (both) p->hdr = both;
  p->conns = calloc(n ? n : 1, sizeof *p->conns);
  if (!p->multi || !both || !p->conns) return false;
  p->n = n;
  curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, (long)n + 8);
  for (size_t i = 0; i < n; i++) {
    hotel_http_conn *c = &p->conns[i];
    c->h = curl_easy_init();
    if (c->h == NULL) return false;
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, p->hdr);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, timeout_ms);
  }
  return true;
}

void hotel_http_post(hotel_http *p, size_t i, const char *url, const char *body) {
  hotel_http_conn *c = &p->conns[i];
  sfb_buf_reset(&c->resp);
  curl_easy_setopt(c->h, CURLOPT_URL, url);
  curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
  curl_multi_add_handle(p->multi, c->h);
}

void hotel_http_run(hotel_http *p, hotel_http_done_fn *done, void *ud) {
  int running, left;
  curl_multi_perform(p->multi, &running);
  CURLMsg *msg;
  while ((msg = curl_multi_info_read(p->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    hotel_http_conn *c;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
    long status = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    CURLcode rc = msg->data.result; /* msg is invalid after the removal */
    curl_multi_remove_handle(p->multi, c->h);
    done(ud, (size_t)(c - p->conns), rc, status, c->resp.len ? (const char *)c->resp.p : "");
  }
}

void hotel_http_wait(hotel_http *p, int ms) { curl_multi_poll(p->multi, NULL, 0, ms, NULL); }

void hotel_http_close(hotel_http *p) {
  for (size_t i = 0; p->conns && i < p->n; i++) {
    curl_easy_cleanup(p->conns[i].h);
    sfb_buf_free(&p->conns[i].resp);
  }
  free(p->conns);
  if (p->multi) curl_multi_cleanup(p->multi);
  curl_slist_free_all(p->hdr);
  curl_global_cleanup();
  memset(p, 0, sizeof *p);
}
