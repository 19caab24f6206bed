/* bench_tokenizer — encode throughput (MB/s, one thread) over ~4 MB of mixed
 * English / code / CJK text generated deterministically, and load time, for
 * qwen3 and gemma3 (tokenizer.json) and bert-bge (GGUF).
 *   bench_tokenizer [TESTDATA_DIR] [MB]   (default ../shared/testdata, 4) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "mlxc/mlxc.h"

static const char *const EN[] = {"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog",
                                  "tokenizer", "model", "inference", "memory", "bandwidth", "lazy",
                                  "arrays", "are", "evaluated", "when", "needed", "It's", "don't"};
static const char *const CODE[] = {"for (int i = 0; i < n; i++) {\n", "    x[i] = a * y[i] + b;\n", "}\n",
                                   "def f(x):\n    return x ** 2\n", "if (!p) return NULL;\n",
                                   "\tprintf(\"%d\\n\", v);\n", "const auto &[k, v] : map\n"};
static const char *const CJK[] = {"我想在", "工作", "東京は", "日本の首都です。", "안녕하세요", "世界",
                                  "中文分词", "トークナイザー"};

/* CPU time of this thread: on a shared, loaded machine wall time mostly
 * measures the other processes. */
static double cpu_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 11);
}

static char *make_text(size_t bytes, size_t *n) {
  char *b = malloc(bytes + 256);
  size_t k = 0;
  while (b && k < bytes) {
    uint32_t r = next() % 10;
    const char *s;
    if (r < 6) s = EN[next() % (sizeof EN / sizeof *EN)];
    else if (r < 8) s = CODE[next() % (sizeof CODE / sizeof *CODE)];
    else s = CJK[next() % (sizeof CJK / sizeof *CJK)];
    size_t l = strlen(s);
    memcpy(b + k, s, l);
    k += l;
    b[k++] = (next() % 12 == 0) ? '\n' : ' ';
    if (next() % 50 == 0) k += (size_t)sprintf(b + k, "%u. ", next() % 100000);
  }
  *n = k;
  return b;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "../shared/testdata";
  double mb = argc > 2 ? atof(argv[2]) : 4;
  size_t n;
  char *text = make_text((size_t)(mb * 1e6), &n);
  if (!text) return 1;
  /* MLXC_BENCH_TEXT_OUT=FILE: write the text, for the Hugging Face side of a
   * side-by-side run (bench/hf_tokenizers_bench.py). */
  const char *dump = getenv("MLXC_BENCH_TEXT_OUT");
  if (dump) {
    FILE *f = fopen(dump, "wb");
    if (!f || fwrite(text, 1, n, f) != n) fprintf(stderr, "cannot write %s\n", dump);
    if (f) fclose(f);
  }
  printf("text: %.2f MB mixed English/code/CJK; one thread; MB/s of input text (decode: of output)\n",
         n / 1e6);
  const char *which[][2] = {{"qwen3", "tokenizers/hf/qwen3/tokenizer.json"},
                            {"gemma3", "tokenizers/hf/gemma3/tokenizer.json"},
                            {"llama2", "tokenizers/hf/llama2/tokenizer.json"},
                            {"bert-bge", "tokenizers/llamacpp/ggml-vocab-bert-bge.gguf"}};
  for (int i = 0; i < 4; i++) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, which[i][1]);
    double t0 = now_sec(), c0 = cpu_sec();
    mx_tokenizer *t = mx_tokenizer_load(p);
    double t1 = now_sec(), c1 = cpu_sec();
    if (!t) {
      printf("%-9s load failed: %s\n", which[i][0], mx_last_error());
      continue;
    }
    int32_t *ids = NULL;
    size_t nid = 0;
    double best = 1e30, best_cpu = 1e30;
    for (int rep = 0; rep < 2; rep++) {
      double a = now_sec(), ac = cpu_sec();
      if (mx_tokenizer_encode(t, text, n, false, &ids, &nid) != MX_OK) {
        printf("%-9s encode failed: %s\n", which[i][0], mx_last_error());
        break;
      }
      double e = now_sec() - a, ec = cpu_sec() - ac;
      if (e < best) best = e;
      if (ec < best_cpu) best_cpu = ec;
      if (rep == 0) {
        char *back = NULL;
        size_t bl = 0;
        double d0 = cpu_sec();
        mx_tokenizer_decode(t, ids, nid, false, &back, &bl);
        double d1 = cpu_sec();
        printf("%-9s load %6.3f s (%5.3f cpu)  decode %6.1f MB/s cpu  ", which[i][0], t1 - t0, c1 - c0,
               bl / 1e6 / (d1 - d0));
        free(back);
      }
      free(ids);
      ids = NULL;
    }
    printf("encode %6.2f MB/s cpu (%5.2f wall) (%zu tokens, %.2f bytes/token)\n", n / 1e6 / best_cpu,
           n / 1e6 / best, nid,
           nid ? (double)n / nid : 0.0);
    mx_tokenizer_free(t);
  }
  free(text);
  return 0;
}
