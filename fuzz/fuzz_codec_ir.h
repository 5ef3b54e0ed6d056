/*
 * fuzz_codec_ir.h - the fixed entity IR of fuzz_front and fuzz_ir_json
 * (tests/codegen/gen/codec.ir.json, every field type), loaded once.
 */
#ifndef FUZZ_CODEC_IR_H
#define FUZZ_CODEC_IR_H

#include "ir.h"

/* The IR at FZ_CODEC_IR (a compile definition of the two targets), read on
 * the first call; a load failure is a fuzzer failure. */
const sfc_ir *fz_codec_ir(void);

#endif
