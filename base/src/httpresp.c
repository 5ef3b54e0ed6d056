/*
 * httpresp.c - an incremental parser of one HTTP/1.1 response (see
 * sfb/httpresp.h): the head line by line, then the body by Content-Length,
 * chunked encoding (decoded in place) or the close of the connection.
 * Strict where a lenient reading could desynchronise a kept-alive
 * connection: conflicting Content-Lengths, Content-Length beside chunked,
 * unknown transfer codings, folded header lines and bad chunk sizes are
 * errors, after which the caller closes the connection.
 */
#include "sfb/httpresp.h"

#include <string.h>
#include <strings.h>

/* Chunked body states (cstate). */
enum { CS_SIZE, CS_DATA, CS_DATA_END, CS_TRAILER };

void sfb_http_resp_init(sfb_http_resp *r) {
  memset(r, 0, sizeof *r);
  r->content_length = -1;
}

static int fail(sfb_http_resp *r, const char *why) {
  r->error = why;
  return SFB_HTTP_ERROR;
}

/* [p, end) without spaces and tabs at both ends. */
static void trim(char **p, char **end) {
  while (*p < *end && (**p == ' ' || **p == '\t')) (*p)++;
  while (*end > *p && ((*end)[-1] == ' ' || (*end)[-1] == '\t')) (*end)--;
}

/* Whether the comma-separated list [p, end) holds `token` (any case). */
static bool list_has(const char *p, const char *end, const char *token) {
  size_t n = strlen(token);
  while (p < end) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    char *a = (char *)p, *b = (char *)(comma ? comma : end);
    trim(&a, &b);
    if ((size_t)(b - a) == n && strncasecmp(a, token, n) == 0) return true;
    p = comma ? comma + 1 : end;
  }
  return false;
}

static int status_line(sfb_http_resp *r, const char *p, const char *end) {
  /* HTTP/1.x SP 3DIGIT [SP reason] */
  if (end - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
      p[8] != ' ')
    return fail(r, "not an HTTP/1.x status line");
  int s = 0;
  for (int i = 9; i < 12; i++) {
    if (p[i] < '0' || p[i] > '9') return fail(r, "bad status code");
    s = s * 10 + (p[i] - '0');
  }
  if (s < 100 || (end - p > 12 && p[12] != ' ')) return fail(r, "bad status code");
  r->status = s;
  r->close = p[7] == '0'; /* HTTP/1.0: closes unless it says keep-alive */
  return 0;
}

static int header_line(sfb_http_resp *r, uint8_t *buf, char *p, char *end) {
  if (*p == ' ' || *p == '\t') return fail(r, "folded header line");
  char *colon = memchr(p, ':', (size_t)(end - p));
  if (!colon || colon == p) return fail(r, "header line without a name");
  size_t nlen = (size_t)(colon - p);
  char *v = colon + 1, *vend = end;
  trim(&v, &vend);
#define IS(name) (nlen == sizeof(name) - 1 && strncasecmp(p, name, nlen) == 0)
  if (IS("Content-Length")) {
    int64_t cl = 0;
    if (v == vend) return fail(r, "empty Content-Length");
    for (char *q = v; q < vend; q++) {
      if (*q < '0' || *q > '9' || cl > (INT64_MAX - 9) / 10) return fail(r, "bad Content-Length");
      cl = cl * 10 + (*q - '0');
    }
    if (r->content_length >= 0 && r->content_length != cl)
      return fail(r, "conflicting Content-Length headers");
    r->content_length = cl;
  } else if (IS("Transfer-Encoding")) {
    /* only "chunked" alone: other codings cannot be read here */
    if (!(vend - v == 7 && strncasecmp(v, "chunked", 7) == 0))
      return fail(r, "unsupported Transfer-Encoding");
    r->chunked = true;
  } else if (IS("Connection")) {
    if (list_has(v, vend, "close")) r->close = true;
    else if (list_has(v, vend, "keep-alive")) r->close = false;
  } else if (IS("Content-Type")) {
    if (r->n_ctype < SFB_HTTP_MAX_CTYPE) r->ctype_off[r->n_ctype++] = (size_t)((uint8_t *)v - buf);
    *vend = '\0';
  } else if (IS("Content-Encoding")) {
    if (!(vend - v == 8 && strncasecmp(v, "identity", 8) == 0))
      return fail(r, "compressed reply (Content-Encoding), but no Accept-Encoding was sent");
  }
#undef IS
  return 0;
}

/* The head, line by line from r->line; sets head_done at its blank line. */
static int parse_head(sfb_http_resp *r, uint8_t *buf, size_t n) {
  while (!r->head_done) {
    uint8_t *nl = memchr(buf + r->scan, '\n', n - r->scan);
    if (!nl) {
      r->scan = n;
      return n - r->body_off > SFB_HTTP_MAX_HEAD ? fail(r, "response head too long")
                                                  : SFB_HTTP_MORE;
    }
    char *p = (char *)buf + r->line, *end = (char *)nl;
    if (end > p && end[-1] == '\r') end--;
    r->line = r->scan = (size_t)(nl - buf) + 1;
    if (r->status == 0) {
      if (status_line(r, p, end) != 0) return SFB_HTTP_ERROR;
    } else if (end == p) { /* blank line: end of this head */
      if (r->status >= 100 && r->status < 200 && r->status != 101) {
        sfb_http_resp_init(r); /* an interim head: the real one follows */
        r->scan = r->line = r->body_off = (size_t)(nl - buf) + 1;
        continue;
      }
      if (r->chunked && r->content_length >= 0)
        return fail(r, "both Content-Length and chunked Transfer-Encoding");
      r->head_done = true;
      r->body_off = r->scan;
    } else {
      *end = '\0';
      if (header_line(r, buf, p, end) != 0) return SFB_HTTP_ERROR;
    }
  }
  return SFB_HTTP_MORE;
}

/* A chunked body from r->scan, data moved down to body_off + body_len. */
static int parse_chunked(sfb_http_resp *r, uint8_t *buf, size_t n, size_t max_body) {
  for (;;) {
    if (r->cstate == CS_DATA) {
      size_t take = n - r->scan < r->chunk_left ? n - r->scan : r->chunk_left;
      if (max_body && r->body_len + take > max_body) {
        r->too_large = true;
        return fail(r, "reply body too large");
      }
      memmove(buf + r->body_off + r->body_len, buf + r->scan, take);
      r->body_len += take;
      r->scan += take;
      r->chunk_left -= take;
      if (r->chunk_left) return SFB_HTTP_MORE;
      r->cstate = CS_DATA_END;
      continue;
    }
    uint8_t *nl = memchr(buf + r->scan, '\n', n - r->scan);
    if (!nl) return n - r->scan > 1024 ? fail(r, "chunk line too long") : SFB_HTTP_MORE;
    char *p = (char *)buf + r->scan, *end = (char *)nl;
    if (end > p && end[-1] == '\r') end--;
    r->scan = (size_t)(nl - buf) + 1;
    if (r->cstate == CS_DATA_END) {
      if (end != p) return fail(r, "chunk data longer than its size");
      r->cstate = CS_SIZE;
    } else if (r->cstate == CS_TRAILER) {
      if (end == p) {
        r->used = r->scan;
        return SFB_HTTP_DONE;
      }
    } else { /* CS_SIZE: hex [;extension] */
      size_t size = 0;
      char *q = p;
      for (; q < end; q++) {
        int d = *q >= '0' && *q <= '9'   ? *q - '0'
                : *q >= 'a' && *q <= 'f' ? *q - 'a' + 10
                : *q >= 'A' && *q <= 'F' ? *q - 'A' + 10
                                         : -1;
        if (d < 0) break;
        if (size > (SIZE_MAX >> 4)) return fail(r, "chunk size too large");
        size = size * 16 + (size_t)d;
      }
      if (q == p || (q < end && *q != ';' && *q != ' ' && *q != '\t'))
        return fail(r, "bad chunk size");
      r->chunk_left = size;
      r->cstate = size ? CS_DATA : CS_TRAILER;
    }
  }
}

int sfb_http_resp_parse(sfb_http_resp *r, uint8_t *buf, size_t n, bool eof, size_t max_body) {
  if (!r->head_done) {
    int rc = parse_head(r, buf, n);
    if (rc == SFB_HTTP_ERROR) return rc;
    if (!r->head_done)
      return eof ? fail(r, n ? "connection closed in the response head"
                             : "connection closed before a response")
                 : SFB_HTTP_MORE;
    if (r->status == 204 || r->status == 304 || r->status == 101) {
      r->used = r->body_off;
      return SFB_HTTP_DONE;
    }
    if (!r->chunked && r->content_length >= 0 && max_body &&
        (uint64_t)r->content_length > max_body) {
      r->too_large = true;
      return fail(r, "reply body too large");
    }
    r->scan = r->body_off;
  }
  if (r->chunked) {
    int rc = parse_chunked(r, buf, n, max_body);
    if (rc == SFB_HTTP_MORE && eof) return fail(r, "connection closed in a chunked body");
    return rc;
  }
  size_t have = n - r->body_off;
  if (r->content_length >= 0) {
    if (have < (uint64_t)r->content_length)
      return eof ? fail(r, "connection closed before the whole body arrived") : SFB_HTTP_MORE;
    r->body_len = (size_t)r->content_length;
    r->used = r->body_off + r->body_len;
    return SFB_HTTP_DONE;
  }
  /* neither: the body runs to the close */
  r->close = true;
  if (max_body && have > max_body) {
    r->too_large = true;
    return fail(r, "reply body too large");
  }
  if (!eof) return SFB_HTTP_MORE;
  r->body_len = have;
  r->used = n;
  return SFB_HTTP_DONE;
}
