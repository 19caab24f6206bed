/* lfm2.c — placeholder until the architecture lands: loading names it as not
 * implemented yet. */
#include "../../core/core.h"
#include "../lm_internal.h"

static void *create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  (void)cfg;
  (void)w;
  (void)q;
  set_error(MX_ERR_UNSUPPORTED, "model type \"lfm2\" is not implemented yet");
  return NULL;
}

const lm_arch lm_arch_lfm2 = {.name = "lfm2", .create = create};
