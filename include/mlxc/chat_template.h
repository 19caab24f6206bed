/* mlxc/chat_template.h — Hugging Face chat templates (Jinja2), rendered the
 * way transformers' apply_chat_template renders them.
 *
 * The engine matches Python Jinja2 as HF configures it: a sandboxed
 * environment with trim_blocks and lstrip_blocks, the loop-controls extension
 * ({% break %}, {% continue %}), HF's tojson (non-ASCII kept, keys in their
 * order), and the globals raise_exception(msg) and strftime_now(fmt). Values
 * behave as in Python: dicts keep insertion order, 1 and 1.0 stay apart,
 * lists print as "[1, 'a']", True/False/None print capitalized.
 *
 * Templates are untrusted input: parsing and rendering never crash; work,
 * memory, output size and recursion depth are bounded (see the params).
 *
 * Errors: failing calls return NULL or a negative mx_status and set the
 * thread's last error (mlxc/error.h):
 *   - syntax errors: MX_ERR_FORMAT, "chat template syntax error at line L,
 *     column C: ...";
 *   - raise_exception(msg) in the template: MX_ERR_INVALID_ARG, and the last
 *     error message is exactly msg (what HF's TemplateError carries);
 *   - other render errors (undefined variables used in arithmetic, wrong
 *     types, ...): MX_ERR_INVALID_ARG, "chat template error at line L: ...";
 *   - limits: MX_ERR_INVALID_ARG ("... limit ...") or MX_ERR_OOM.
 *
 * Thread safety: a loaded template is immutable; any number of threads may
 * render it at once.
 */
#ifndef MLXC_CHAT_TEMPLATE_H
#define MLXC_CHAT_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "mlxc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mx_chat_template mx_chat_template;

/* Render limits and options. Make with mx_chat_template_default_params() so
 * that `size` is set; fields may be added at the end in later versions. */
typedef struct mx_chat_template_params {
  size_t size;              /* sizeof(mx_chat_template_params) */
  int64_t max_output_bytes; /* rendered text (default 64 MiB) */
  int64_t max_memory_bytes; /* working memory of one render (default 1 GiB) */
  int64_t max_steps;        /* loop iterations + calls + filters (default 20 million) */
  int32_t max_depth;        /* nesting of evaluation, e.g. macro recursion (default 500) */
  int32_t fixed_time;       /* nonzero: strftime_now formats `now` (UTC) instead of
                               the local clock, for reproducible prompts */
  int64_t now;              /* seconds since 1970-01-01 UTC, used when fixed_time */
} mx_chat_template_params;

mx_chat_template_params mx_chat_template_default_params(void);

/* Parses a template from memory (UTF-8; need not be NUL-terminated). The
 * source is copied. Returns NULL on a syntax error (MX_ERR_FORMAT, with line
 * and column in the message). */
mx_chat_template *mx_chat_template_load(const char *source, size_t len);

/* Finds and parses a model's chat template. `path` may be
 *   - a model folder: chat_template.jinja, else chat_template.json
 *     ({"chat_template": ...}), else tokenizer_config.json's "chat_template";
 *     with `name`, additional_chat_templates/<name>.jinja is tried first;
 *   - a tokenizer_config.json or chat_template.json file;
 *   - a .jinja (or any other text) file holding the template itself.
 * tokenizer_config.json's "chat_template" may be a string or a list of
 * {"name", "template"}: `name` picks one (NULL picks "default"). The special
 * tokens of a tokenizer_config.json next to the template (bos_token,
 * eos_token, unk_token, pad_token, ..., as strings or {"content": ...})
 * become default variables of every render.
 * Returns NULL with MX_ERR_IO (missing files), MX_ERR_FORMAT (bad JSON or
 * template) or MX_ERR_INVALID_ARG (no such named template). */
mx_chat_template *mx_chat_template_load_file(const char *path, const char *name);

/* Renders with the variables of `context_json`, a JSON object such as
 *   {"messages": [...], "tools": [...], "add_generation_prompt": true,
 *    "enable_thinking": false, "bos_token": "<s>"}
 * (NULL or "" = no variables). Variables the context lacks but the loaded
 * tokenizer_config.json gave (special tokens) are added. `params` may be
 * NULL for the defaults. On success *out is a NUL-terminated malloc'ed
 * string the caller frees with mx_string_free, and *out_len (if non-NULL) its
 * length in bytes. On failure *out is NULL. */
mx_status mx_chat_template_render(const mx_chat_template *t, const char *context_json,
                                  const mx_chat_template_params *params, char **out,
                                  size_t *out_len);

/* HF's apply_chat_template(messages, tools=..., add_generation_prompt=...,
 * **kwargs) with tokenize=False: builds the context {messages, tools (null
 * when NULL), documents: null, add_generation_prompt, ...extra_vars_json's
 * members} and renders it. messages_json: a JSON array of messages;
 * tools_json: a JSON array or NULL; extra_vars_json: a JSON object or NULL.
 * JSON texts are spliced as given, so numbers keep their int/float form. */
mx_status mx_chat_template_apply(const mx_chat_template *t, const char *messages_json,
                                 const char *tools_json, int add_generation_prompt,
                                 const char *extra_vars_json,
                                 const mx_chat_template_params *params, char **out,
                                 size_t *out_len);

/* The template's source text (borrowed, valid until the template is freed). */
const char *mx_chat_template_source(const mx_chat_template *t, size_t *len);

void mx_chat_template_free(mx_chat_template *t);

/* Frees a string returned by mlxc (NULL is fine). */
void mx_string_free(char *s);

#ifdef __cplusplus
}
#endif
#endif
