/*
 * config_tabs.c - refuses the tabs Flink's YAML parser refuses, so that a
 * module.yaml sf-local loads is one Flink loads too.
 *
 * Flink reads module.yaml with Jackson's YAML module, that is SnakeYAML
 * (flink-shaded-jackson 2.12), which skips only spaces between tokens: a
 * tab where a token could start fails with "found character '\t(TAB)' that
 * cannot start any token". A tab inside a token is fine (a plain or quoted
 * scalar, a block scalar's text), and so is one in a comment or in the
 * blanks that end a plain scalar's line (SnakeYAML's plain-scalar scanner
 * swallows them). libyaml, which sf-local parses with, is more lenient in
 * flow collections and after some indicators ("a: [1,\t2]", "a:\tb"), so
 * this pass walks libyaml's tokens and applies SnakeYAML's rule to the
 * text between them. It also applies SnakeYAML's rule for a block scalar's
 * header ('|' or '>' and its indicators, then a space or a line break),
 * which libyaml relaxes. Checked against the real Flink jar by
 * tests/runtime/yaml_parity/yaml_parity.py.
 */
#include "config_impl.h"

#include <stdbool.h>
#include <string.h>
#include <yaml.h>

void cfg_text_position(const char *s, size_t len, size_t at, int *line, int *col) {
  int l = 1, k = 1;
  for (size_t i = 0; i < at; i++) {
    if (s[i] == '\n' || (s[i] == '\r' && (i + 1 == len || s[i + 1] != '\n'))) {
      l++;
      k = 1;
    } else if (((unsigned char)s[i] & 0xc0) != 0x80 && s[i] != '\r') {
      k++;
    }
  }
  *line = l;
  *col = k;
}

static int tab_error(ctx *c, const char *s, size_t len, size_t at,
                     const char *why) {
  int line, col;
  cfg_text_position(s, len, at, &line, &col);
  return cfg_fail_at(c, line, col, "%s", why);
}

/* The blanks, breaks and comments between two tokens, s[a..b): the first
 * tab outside a comment, unless it ends the line of a plain scalar. */
static bool gap_has_bad_tab(const char *s, size_t a, size_t b,
                            bool after_plain, size_t *at) {
  bool comment = false;
  for (size_t i = a; i < b; i++) {
    char ch = s[i];
    if (ch == '\n' || ch == '\r') {
      comment = false;
      after_plain = false;
    } else if (ch == '#') {
      comment = true;
    } else if (ch == '\t' && !comment && !after_plain) {
      *at = i;
      return true;
    }
  }
  return false;
}

/* A plain scalar over several lines, s[a..b): SnakeYAML continues one
 * only over spaces, so a tab that leads a continuation line ends it there
 * and is then a tab where a token should start. */
static bool plain_has_bad_tab(const char *s, size_t a, size_t b, size_t *at) {
  bool lead = false;
  for (size_t i = a; i < b; i++) {
    if (s[i] == '\n' || s[i] == '\r') {
      lead = true;
    } else if (lead && s[i] == '\t') {
      *at = i;
      return true;
    } else if (s[i] != ' ') {
      lead = false;
    }
  }
  return false;
}

/* A block scalar's header: SnakeYAML wants a space or a line break right
 * after '|' or '>' and its indicators ("|\t" and "|#c" fail there). */
static bool header_is_bad(const char *s, size_t len, size_t i, size_t *at) {
  size_t j = i + 1;
  while (j < len && j < i + 3 && strchr("123456789+-", s[j]) && s[j] != '\0')
    j++;
  if (j == len || s[j] == ' ' || s[j] == '\n' || s[j] == '\r') return false;
  *at = j;
  return true;
}

enum { TABS_OK, TABS_BAD, TABS_HEADER, TABS_NOSCAN };

/* Walks the tokens of s[0..len): TABS_BAD (a tab) or TABS_HEADER (a block
 * scalar's header) with the offending byte in *at, TABS_OK, or TABS_NOSCAN when libyaml's scanner fails before the end with
 * no tab to blame (a syntax error for the event parser to report). */
static int scan(const char *text, size_t len, bool rescan, size_t *at) {
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) return TABS_NOSCAN;
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  size_t cursor = 0;
  bool after_plain = false;
  int rc = TABS_OK;
  for (;;) {
    yaml_token_t t;
    if (!yaml_parser_scan(&p, &t)) {
      /* libyaml may hold tokens back (a scalar that may still turn out to
       * be a key), so the text before the failure is walked again as a
       * stream of its own; then a tab where libyaml stopped is to blame. */
      size_t e = p.problem_mark.index < len ? p.problem_mark.index : len;
      rc = TABS_NOSCAN;
      int pre = rescan && e < len ? scan(text, e, false, at) : TABS_OK;
      if (pre == TABS_BAD || pre == TABS_HEADER)
        rc = pre;
      else if (!rescan && gap_has_bad_tab(text, cursor, e, after_plain, at))
        rc = TABS_BAD;
      else if (e < len && text[e] == '\t')
        rc = TABS_BAD, *at = e;
      break;
    }
    yaml_token_type_t type = t.type;
    size_t s = t.start_mark.index, e = t.end_mark.index;
    bool plain = type == YAML_SCALAR_TOKEN &&
                 t.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    bool block = type == YAML_SCALAR_TOKEN &&
                 (t.data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
                  t.data.scalar.style == YAML_FOLDED_SCALAR_STYLE);
    yaml_token_delete(&t);
    if (type == YAML_STREAM_END_TOKEN) s = e = len;
    if (e > s || type == YAML_STREAM_END_TOKEN) { /* tokens with a text */
      if ((s > cursor && gap_has_bad_tab(text, cursor, s, after_plain, at)) ||
          (plain && plain_has_bad_tab(text, s, e, at))) {
        rc = TABS_BAD;
        break;
      }
      if (block && header_is_bad(text, len, s, at)) {
        rc = TABS_HEADER;
        break;
      }
      if (e > cursor) cursor = e;
      after_plain = plain;
    }
    if (type == YAML_STREAM_END_TOKEN) break;
  }
  yaml_parser_delete(&p);
  return rc;
}

int cfg_check_tabs(ctx *c, const char *text, size_t len) {
  size_t at;
  if (!memchr(text, '\t', len) && !memchr(text, '|', len) &&
      !memchr(text, '>', len))
    return 0;
  int rc = scan(text, len, true, &at);
  if (rc == TABS_HEADER)
    return tab_error(c, text, len, at, "a block scalar's '|' or '>' (and its "
                     "indicators) must be followed by a space or a line break");
  if (rc != TABS_BAD) return 0;
  return tab_error(c, text, len, at,
                   "a tab where YAML expects a token; Flink's YAML parser "
                   "accepts only spaces here (tabs are fine inside a value or "
                   "a comment)");
}
