/* fuzz_jinja.c — libFuzzer target for the chat-template engine (lexer,
 * parser, evaluator, JSON reader): templates are untrusted files.
 *
 * Input: template bytes, optionally followed by "\0" and a JSON context.
 * Without a context, a small conversation is used so that the usual
 * variables (messages, tools, add_generation_prompt) exist.
 *
 * Build and run by hand (not part of CMake):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -std=c11 \
 *     -I include -I src fuzz/fuzz_jinja.c src/text/jinja_*.c src/text/chat_template.c \
 *     src/core/error.c -lcjson -lm -o /tmp/fuzz_jinja
 *   mkdir -p /tmp/jinja_corpus && cp ../shared/testdata/chat_templates/[A-Za-z]*.jinja /tmp/jinja_corpus/
 *   /tmp/fuzz_jinja -max_total_time=600 -max_len=8192 -timeout=10 -rss_limit_mb=2048 /tmp/jinja_corpus
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlxc/chat_template.h"

static const char DEFAULT_CTX[] =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", \"content\": \"hi \\u00e9\"},"
    " {\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"abcdefghi\", \"type\": \"function\","
    " \"function\": {\"name\": \"f\", \"arguments\": {\"a\": 1.5, \"b\": [1, 2]}}}]},"
    " {\"role\": \"tool\", \"tool_call_id\": \"abcdefghi\", \"content\": \"ok\"},"
    " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"x\"}, {\"type\": \"image\"}]}],"
    " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"description\": \"d\","
    " \"parameters\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"number\"}}, \"required\": [\"a\"]}}}],"
    " \"add_generation_prompt\": true, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"enable_thinking\": false}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *src = (const char *)data;
  size_t tlen = size;
  char *ctx = NULL;
  const uint8_t *nul = memchr(data, 0, size);
  if (nul) {
    tlen = (size_t)(nul - data);
    size_t clen = size - tlen - 1;
    ctx = malloc(clen + 1);
    if (!ctx) return 0;
    memcpy(ctx, nul + 1, clen);
    ctx[clen] = 0;
  }
  mx_chat_template *t = mx_chat_template_load(src, tlen);
  if (t) {
    mx_chat_template_params p = mx_chat_template_default_params();
    p.max_steps = 200000;
    p.max_memory_bytes = 64 << 20;
    p.max_output_bytes = 1 << 20;
    p.max_depth = 200;
    p.fixed_time = 1;
    p.now = 1721995200;
    char *out = NULL;
    size_t n = 0;
    mx_chat_template_render(t, ctx ? ctx : DEFAULT_CTX, &p, &out, &n);
    if (out && strlen(out) > n) abort(); /* length must cover the text */
    mx_string_free(out);
    mx_chat_template_free(t);
  }
  free(ctx);
  mx_clear_error();
  return 0;
}
