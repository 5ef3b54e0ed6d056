/*
 * otlp.c - spans as OTLP/JSON lines and derived span ids (sfb/otlp.h).
 */
#include "sfb/otlp.h"

#include <string.h>
#include <time.h>

#include "sfb/fnv.h"
#include "sfb/utf8.h"

/* `s` as the inside of a JSON string (RFC 8259 escapes); when `s` is not
 * UTF-8, its non-ASCII bytes become '?' so that the line stays JSON. */
static void put_escaped(FILE *f, const char *s) {
  if (s == NULL) return;
  bool utf8 = sfb_utf8_valid(s, strlen(s));
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
    else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
    else if (ch >= 0x80 && !utf8) fputc('?', f);
    else fputc(ch, f);
  }
}

int sfb_otlp_write(FILE *f, const char *service, const char *scope,
                   const sfb_otlp_span *sp) {
  if (f == NULL || sp->trace_id == NULL || strlen(sp->trace_id) != 32) return -1;
  fputs("{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
        "\"value\":{\"stringValue\":\"", f);
  put_escaped(f, service);
  fputs("\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"", f);
  put_escaped(f, scope);
  fprintf(f, "\"},\"spans\":[{\"traceId\":\"%s\",\"spanId\":\"%s\",\"parentSpanId\":\"%s\","
          "\"name\":\"", sp->trace_id, sp->span_id,
          sp->parent_span_id ? sp->parent_span_id : "");
  put_escaped(f, sp->name);
  fprintf(f, "\",\"kind\":%d,\"startTimeUnixNano\":\"%llu\",\"endTimeUnixNano\":\"%llu\","
          "\"attributes\":[", sp->kind, (unsigned long long)sp->start_ns,
          (unsigned long long)sp->end_ns);
  for (size_t i = 0; i < SFB_OTLP_ATTRS && sp->attr_key[i]; i++) {
    fprintf(f, "%s{\"key\":\"%s\",\"value\":{\"stringValue\":\"", i ? "," : "", sp->attr_key[i]);
    put_escaped(f, sp->attr_val[i] ? sp->attr_val[i] : "");
    fputs("\"}}", f);
  }
  fputs("]", f);
  if (sp->error) fputs(",\"status\":{\"code\":2}", f);
  fputs("}]}]}]}\n", f);
  return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}

uint64_t sfb_otlp_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sfb_span_id_of(const char *s, char out[17]) {
  uint64_t h = sfb_fnv1a64(s);
  if (h == 0) h = 1;
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}
