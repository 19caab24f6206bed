#!/usr/bin/python3
"""Writes tests/data/tokenizer_corpus.txt: adversarial strings for the
tokenizer comparison with HF `tokenizers`, separated (as llama.cpp's vector
files are) by b"\n__mlxc_tok_case__\n". Some cases hold invalid UTF-8 on
purpose; readers decode them with errors="replace". Deterministic."""
import random, sys

cases = [
    "", " ", "  ", "   ", "\t", "\n", "\n\n\n", "\r\n", " \n \t ", "\t\t  \n\n  \t",
    "hello   ", "   hello", "hello\n\n\nworld", "a\tb\tc", "  leading and trailing  ",
    "Hello, world! How's it going? I'M fine; we'Re OK, they'LL see.",
    "don't won't can't shouldn't y'all 'tis ’quoted’",
    "我想在apple工作1314151天～", "東京は日本の首都です。カタカナとひらがな", "안녕하세요 세계",
    "\u1100\u1161\u11a8 jamo", "中文，標點；符號！", "繁體字與简体字混合",
    "👨\u200d👩\u200d👧\u200d👦 family", "👍🏽👋🏿 skin tones", "🇯🇵🇺🇸 flags", "😶\u200d🌫️ (multiple emojis concatenated) ✅",
    "🦙🦙🦙.cpp", "e\u0301 vs \u00e9", "A\u0308 and \u00c4", "\u01c5 \ufb01 \u2460 \uff28\uff45\uff4c\uff4c\uff4f",
    "na\u0303o co\u0327a\u0303o", "Cửa Việt Tiếng Việt", "Ελληνικά ΣΊΣΥΦΟΣ σίσυφος", "Русский текст, ЗАГЛАВНЫЕ",
    "مرحبا بالعالم", "שלום עולם", "abc مرحبا 123 שלום xyz", "\u0645\u064e\u0631\u0652\u062d\u064e\u0628\u064b\u0627",
    "हिन्दी भाषा", "ภาษาไทยไม่มีช่องว่าง", "កាន់តែពិសេសអាចខលចេញ",
    "def f(x):\n    return x ** 2  # square\n\nprint(f(3))\n",
    "int main(void) {\n\tfor (int i = 0; i < 10; i++) {\n\t\tprintf(\"%d\\n\", i);\n\t}\n}\n",
    '{"key": [1, 2.5, null, true], "nested": {"a": "b"}}',
    "<div class=\"x\"><a href='https://example.com/path?q=1&r=2'>link</a></div>",
    "x=>x*2; a!==b && c||d; i++; --j; a<<=2;", "    indented\n        more\n\tTab",
    "12345678901234567890", "3.14159265358979", "1,000,000.00", "٣٤٥ ١٢ ۱۲۳", "①②③ Ⅻ ½",
    "0x1F 0b1010 1e-10 -42", "2024-01-31T12:34:56Z",
    "<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n",
    "<s>hello</s> <unk> text", "<bos>text<eos><pad>", "<|begin_of_text|>Hi<|eot_id|><|start_header_id|>",
    "<start_of_turn>user\nhello<end_of_turn>", "partial <|im_start and <<s>> and </s", "<|endoftext|><|endoftext|>",
    b"abc\xff\xfe def", b"\xe2\x82 half char", b"\xc0\xaf overlong", b"\xed\xa0\x80 surrogate",
    b"truncated \xf0\x9f\x98", b"\x80\x80\x80 continuation", b"mixed \xe4\xb8 \xe4\xb8\xad ok",
    "\u2581already\u2581has\u2581meta", "<0x41> <0xZZ>", "\u00a0nbsp\u00a0", "\u200bzero\u200bwidth",
    "\u3000ideographic\u3000space", "ctrl\x01\x02\x7f chars", "\ufeffBOM start", "tab\u000bvt\u000cff",
    "\ufffd replacement char", "a" * 300, "ab " * 200, "!!!!!!!!!?????......", "''''\"\"\"\"```````",
    "URL: https://huggingface.co/docs/tokenizers?x=1#frag",
    "email: someone@example.org, phone +1 (555) 010-9999",
    "MiXeD CaSe WoRdS aNd ALLCAPS", "trailing space ", " leading space", "  two  spaces  between  ",
]
rnd = random.Random(1234)
pool = "abcdefghijklmnopqrstuvwxyz ABCXYZ 0123456789 \n\t.,;:!?'\"()[]{}<>+-*/=_ 我你他是的 日本語 한국어 éàüß ñ 🚀😀👍🏽 مرحبا"
for _ in range(12):
    cases.append("".join(rnd.choice(pool) for _ in range(rnd.randint(20, 200))))

out = bytearray()
for c in cases:
    out += c if isinstance(c, bytes) else c.encode("utf-8")
    out += b"\n__mlxc_tok_case__\n"
open(sys.argv[1] if len(sys.argv) > 1 else "tests/data/tokenizer_corpus.txt", "wb").write(out)
print(len(cases), "cases")
