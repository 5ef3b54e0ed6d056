/*
 * config_tabs.c - refuses, before libfyaml sees a module.yaml, the tabs
 * that make libfyaml 0.7.12 (Debian 12's, the one sf-local links) crash.
 *
 * Where it crashes, found by running libfyaml's plain event loop over
 * 10^5 random texts made of YAML tokens (fuzz/README.md): inside an
 * explicit key (a '?' entry and what belongs to it), a run of blanks that
 * holds a tab, right after the ':' of a mapping in that key, and followed
 * by ':' or '?' (anything after them), by '-' and a blank or the line end,
 * or by '|' or '>'. For example "? a:\t: x", "? a:\t?x", "?\n  a:\t- x",
 * "?\r- s:\t:". No text without a '?' key before the tab crashed.
 *
 * Which lines belong to a key depends on libfyaml's own reading of
 * indentation and line breaks (a lone '\r' breaks a line, a sequence may
 * sit at the key's indentation), and an exact copy of that would be a
 * second YAML parser. So the rule holds from the first '?' key to the end
 * of the file: such a tab after it is refused even outside the key. That
 * refuses little valid YAML ("a:\t|" after a '?' key; module.yaml files
 * never use '?' keys) and no tab inside a scalar: the scanner reads a line
 * at a time ('\n' and '\r' both end one) and skips comments, quoted
 * scalars (which may span lines) and the content of block scalars. Every
 * other tab is left to libfyaml, which accepts the valid ones and refuses
 * tabs in indentation itself. A refused tab is reported at its line and
 * column, like every other module.yaml error.
 */
#include "config_impl.h"

#include <stdbool.h>
#include <string.h>

typedef struct tabscan {
  char quote;       /* inside a quoted scalar: '\'' or '"'; else 0 */
  int block_parent; /* indentation of a block scalar's header line, or -1 */
  bool after_key;   /* a '?' key came before: tabs are checked */
} tabscan;

static bool is_blank(char ch) { return ch == ' ' || ch == '\t'; }

/* Whether s[i] starts a node: first on the line, or after an indicator
 * ('-', '?', ':' and a blank; a flow '[', '{', ','), an anchor or a tag.
 * A quote or '?' inside a plain scalar (it's, a ? b) is text. */
static bool node_start(const char *s, size_t i) {
  size_t p = i;
  while (p > 0 && is_blank(s[p - 1])) p--;
  if (p == 0) return true;
  char c = s[p - 1];
  if (strchr("[{,", c) != NULL) return true;
  if (p == i) return false; /* glued to the text before it */
  if (c == ':') return true;
  /* '-' and '?' are indicators only where they start a node themselves:
   * in "? a\t-b\t-\t\"c" the quote is plain text (fuzz_config found a
   * crash hidden behind such a quote, read as a quoted scalar). */
  if (c == '-' || c == '?')
    return (p == 1 || is_blank(s[p - 2])) && node_start(s, p - 1);
  size_t w = p - 1;
  while (w > 0 && !is_blank(s[w - 1])) w--;
  return s[w] == '&' || s[w] == '!';
}

/* Whether s[i] is '|' or '>' opening a block scalar: the indentation and
 * chomping indicators, then only blanks or a comment on the line. */
static bool block_header(const char *s, size_t n, size_t i) {
  size_t j = i + 1;
  while (j < n && j < i + 3 && s[j] != '\0' && strchr("123456789+-", s[j]))
    j++;
  while (j < n && is_blank(s[j])) j++;
  return j == n || s[j] == '#';
}

/* Whether the blank run around the tab at s[i] is one libfyaml crashes on
 * inside an explicit key: right after a value indicator ':', and followed
 * by a block indicator (see the top of the file). */
static bool crashing_tab(const char *s, size_t n, size_t i) {
  size_t b = i;
  while (b > 0 && is_blank(s[b - 1])) b--;
  if (b == 0 || s[b - 1] != ':') return false;
  size_t j = i;
  while (j < n && is_blank(s[j])) j++;
  if (j == n) return false;
  if (s[j] == ':' || s[j] == '?' || s[j] == '|' || s[j] == '>') return true;
  return s[j] == '-' && (j + 1 == n || is_blank(s[j + 1]));
}

/* The 1-based column of byte i of a line (code points, as check_text). */
static int column_of(const char *s, size_t i) {
  int col = 1;
  for (size_t k = 0; k < i; k++) col += ((unsigned char)s[k] & 0xc0) != 0x80;
  return col;
}

/* Inside a quoted scalar: the index just past its closing quote, or n
 * when it goes on to the next line. */
static size_t skip_quoted(tabscan *t, const char *s, size_t n, size_t i) {
  for (; i < n; i++) {
    if (t->quote == '"' && s[i] == '\\') {
      i++; /* an escape; a backslash at the line end joins the lines */
    } else if (s[i] == t->quote) {
      if (t->quote == '\'' && i + 1 < n && s[i + 1] == '\'') {
        i++; /* '' is a quote inside a single-quoted scalar */
        continue;
      }
      t->quote = 0;
      return i + 1;
    }
  }
  return n;
}

static int scan_line(ctx *c, tabscan *t, const char *s, size_t n, int line) {
  size_t ind = 0;
  while (ind < n && s[ind] == ' ') ind++;
  size_t k = ind;
  while (k < n && is_blank(s[k])) k++;
  bool blank = k == n;
  if (t->block_parent >= 0) { /* block scalar content: all text */
    if (blank || (int)ind > t->block_parent) return 0;
    t->block_parent = -1;
  }
  size_t i = t->quote ? skip_quoted(t, s, n, 0) : ind;
  for (; i < n; i++) {
    char ch = s[i];
    if (ch == '#' && (i == 0 || is_blank(s[i - 1]))) break; /* a comment */
    if ((ch == '\'' || ch == '"') && node_start(s, i)) {
      t->quote = ch;
      i = skip_quoted(t, s, n, i + 1) - 1;
    } else if (ch == '?' && node_start(s, i) && (i + 1 == n || is_blank(s[i + 1]))) {
      t->after_key = true;
    } else if ((ch == '|' || ch == '>') && node_start(s, i) &&
               block_header(s, n, i)) {
      t->block_parent = (int)ind;
      break;
    } else if (ch == '\t' && t->after_key && crashing_tab(s, n, i)) {
      return cfg_fail_at(c, line, column_of(s, i),
                         "a tab after ':' in a file with an explicit key "
                         "('?'): use spaces (libfyaml 0.7.12 crashes on this "
                         "tab)");
    }
  }
  return 0;
}

/* The length of the line at s[0..len): up to '\n' or '\r', both line
 * breaks in YAML (a lone '\r' too). */
static size_t line_length(const char *s, size_t len) {
  size_t n = 0;
  while (n < len && s[n] != '\n' && s[n] != '\r') n++;
  return n;
}

int cfg_check_tabs(ctx *c, const char *text, size_t len) {
  if (memchr(text, '\t', len) == NULL) return 0; /* the common case */
  tabscan t = {0, -1, false};
  int line = 1; /* counted as check_text and the messages count: by '\n' */
  for (size_t i = 0; i < len;) {
    size_t n = line_length(text + i, len - i);
    if (scan_line(c, &t, text + i, n, line) < 0) return -1;
    i += n;
    if (i < len && text[i] == '\n') line++;
    i++;
  }
  return 0;
}
