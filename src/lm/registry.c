/* registry.c — model_type -> architecture, with mlx-lm's aliases
 * (MODEL_REMAPPING in mlx_lm/utils.py, for the architectures we have). */
#include <string.h>

#include "../core/core.h"
#include "lm_internal.h"

static const lm_arch *const archs[] = {&lm_arch_llama,       &lm_arch_qwen2, &lm_arch_qwen3,
                                       &lm_arch_gemma3_text, &lm_arch_phi3,  &lm_arch_lfm2,
                                       &lm_arch_qwen3_moe,   &lm_arch_mixtral};

static const struct {
  const char *from, *to;
} aliases[] = {
    {"mistral", "llama"},
    {"iquestcoder", "llama"},
    {"gemma3", "gemma3_text"},
};

#define SUPPORTED "llama, qwen2, qwen3, gemma3_text, phi3, lfm2, qwen3_moe, mixtral"

const char *mx_lm_supported_types(void) { return SUPPORTED; }

const lm_arch *lm_arch_find(const char *model_type) {
  const char *t = model_type;
  for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
    if (strcmp(t, aliases[i].from) == 0) t = aliases[i].to;
  for (size_t i = 0; i < sizeof archs / sizeof *archs; i++)
    if (strcmp(t, archs[i]->name) == 0) return archs[i];
  set_error(MX_ERR_UNSUPPORTED, "model type \"%s\" is not supported (supported: " SUPPORTED
            "; aliases: mistral, iquestcoder -> llama; gemma3 -> gemma3_text)", model_type);
  return NULL;
}
