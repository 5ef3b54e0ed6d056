/* fuzz_codec_ir.c - see fuzz_codec_ir.h. */
#include "fuzz_codec_ir.h"

#include "fuzz_common.h"

const sfc_ir *fz_codec_ir(void) {
  static sfc_ir ir;
  static int loaded;
  if (!loaded) {
    char err[512];
    if (sfc_ir_load(FZ_CODEC_IR, &ir, err, sizeof err) != 0)
      fz_check_failed(err, __FILE__, __LINE__);
    loaded = 1;
  }
  return &ir;
}
