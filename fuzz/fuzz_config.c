/*
 * fuzz_config: module.yaml as sf-local (and sf-local-check) reads it:
 * the input is the whole file, parsed with sfl_config_parse (libyaml
 * and Flink's tab rule, then the io.statefun.* documents and the legacy
 * "3.0" format). Checks: no crash/leak/UB; a failure has one
 * "fuzz.yaml:line:col: message"; a success parses the same way twice.
 * TLS keys naming files make the loader stat/read them (read-only; the
 * corpus names none that exist).
 */
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sfl_config cfg;
  char err[512];
  memset(err, 0x5A, sizeof err);
  int rc = sfl_config_parse("fuzz.yaml", (const char *)data, size, &cfg, err,
                            sizeof err);
  if (rc != 0) {
    FZ_CHECK(rc == -1);
    FZ_CHECK(memchr(err, 0, sizeof err) != NULL);
    FZ_CHECK(strncmp(err, "fuzz.yaml:", 10) == 0);
    return 0;
  }
  sfl_config again;
  FZ_CHECK(sfl_config_parse("fuzz.yaml", (const char *)data, size, &again,
                            err, sizeof err) == 0);
  FZ_CHECK(again.n_endpoints == cfg.n_endpoints &&
           again.n_ingresses == cfg.n_ingresses &&
           again.n_egresses == cfg.n_egresses);
  sfl_config_free(&again);
  sfl_config_free(&cfg);
  return 0;
}
