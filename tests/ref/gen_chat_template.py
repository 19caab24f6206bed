#!/usr/bin/python3
"""Reference renders of real chat templates, made the way Hugging Face
transformers renders them (apply_chat_template with tokenize=False):
Jinja2's ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and the
loopcontrols extension; tojson = json.dumps(ensure_ascii=False, ...);
raise_exception raises TemplateError; strftime_now is fixed to
2024-07-26 12:00:00 (UTC) so that dates are reproducible.

usage: gen_chat_template.py OUT_DIR   (test data from $MLXC_TESTDATA or
../../../shared/testdata relative to this script)

Writes OUT_DIR/cases.tsv, one line per case:
  name <TAB> template path <TAB> context file <TAB> expected file <TAB> status
status: ok (expected = exact output), raise (expected = raise_exception's
message), error (expected = the Python exception; the C side must fail).
"""
import glob
import json
import os
import sys
from datetime import datetime, timezone

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIXED_NOW = datetime(2024, 7, 26, 12, 0, 0, tzinfo=timezone.utc)
FIXED_EPOCH = int(FIXED_NOW.timestamp())


class GenerationTracker(Extension):
    """transformers' AssistantTracker: {% generation %}...{% endgeneration %}."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return FIXED_NOW.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "The city, e.g. Paris"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "add",
        "description": "Add two numbers",
        "parameters": {"type": "object", "properties": {
            "a": {"type": "number", "description": "first"},
            "b": {"type": "integer", "description": "second"},
            "tags": {"type": "array", "items": {"type": "string"}, "description": "labels"}},
            "required": ["a", "b"]}}},
]

SYS = {"role": "system", "content": "You are a helpful assistant."}
U1 = {"role": "user", "content": "Hello! How are you?"}
A1 = {"role": "assistant", "content": "I'm fine, thanks. How can I help?"}
U2 = {"role": "user", "content": "What is 2 + 2?"}

TOOL_CALL_DICT = {"role": "assistant", "content": None, "tool_calls": [
    {"id": "call12345", "type": "function",
     "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]}
TOOL_CALL_STR = {"role": "assistant", "content": "", "tool_calls": [
    {"id": "abcdefghi", "type": "function",
     "function": {"name": "add", "arguments": "{\"a\": 1.5, \"b\": 2}"}}]}
TOOL_RESP = {"role": "tool", "tool_call_id": "call12345", "name": "get_weather",
             "content": "{\"temperature\": 21.0, \"condition\": \"sunny\"}"}

# name -> (context variables, whether to add bos/eos for bare .jinja files)
CONVERSATIONS = {
    "basic": {"messages": [SYS, U1, A1, U2], "add_generation_prompt": True},
    "nosys": {"messages": [U1, A1, U2], "add_generation_prompt": False},
    "single": {"messages": [U1], "add_generation_prompt": True},
    "single_nogen": {"messages": [U1], "add_generation_prompt": False},
    "unicode": {"messages": [
        {"role": "system", "content": "Réponds en français. 日本語も OK 🙂"},
        {"role": "user", "content": "Ça va? «quotes» \"double\" 'single' \\ backslash\ttab\nnewline 👋🏽"},
        {"role": "assistant", "content": "Très bien — merci! 😀"},
        {"role": "user", "content": "  padded with spaces  \n"}], "add_generation_prompt": True},
    "tools": {"messages": [SYS, {"role": "user", "content": "Weather in Paris?"}, TOOL_CALL_DICT, TOOL_RESP],
              "tools": TOOLS, "add_generation_prompt": True},
    "tools_str_args": {"messages": [{"role": "user", "content": "Add 1.5 and 2"}, TOOL_CALL_STR,
                                    {"role": "tool", "tool_call_id": "abcdefghi", "name": "add", "content": "3.5"},
                                    {"role": "assistant", "content": "The sum is 3.5."},
                                    {"role": "user", "content": "Thanks"}],
                       "tools": TOOLS, "add_generation_prompt": True},
    "tools_nocall": {"messages": [U1], "tools": TOOLS, "add_generation_prompt": True},
    "parts": {"messages": [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe this image."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A cat on a sofa."}]},
        {"role": "user", "content": [{"type": "text", "text": "And this one?"}, {"type": "audio"}]}],
        "add_generation_prompt": True},
    "thinking_off": {"messages": [U1], "add_generation_prompt": True, "enable_thinking": False},
    "thinking_on": {"messages": [U1], "add_generation_prompt": True, "enable_thinking": True},
    "reasoning": {"messages": [U1, {"role": "assistant", "content": "Hi there!",
                                    "reasoning_content": "The user greets me."}, U2],
                  "add_generation_prompt": True},
    "think_tags": {"messages": [U1, {"role": "assistant",
                                     "content": "<think>\nLet me think.\n</think>\n\nHello!"}, U2],
                   "add_generation_prompt": False},
    "bad_order": {"messages": [U1, U2], "add_generation_prompt": True},
    "assistant_first": {"messages": [A1, U1], "add_generation_prompt": True},
    "empty": {"messages": [], "add_generation_prompt": True},
    "numbers": {"messages": [{"role": "user", "content": "Call it"},
                             {"role": "assistant", "content": None, "tool_calls": [
                                 {"id": "123456789", "type": "function", "function": {
                                     "name": "add", "arguments": {"a": 1.0, "b": 2, "big": 12345678901234,
                                                                  "f": 0.1, "e": 1e-07, "neg": -3.25,
                                                                  "t": True, "n": None, "l": [1, "x", 2.5],
                                                                  "d": {"k": "v", "u": "é"}}}}]},
                             {"role": "tool", "tool_call_id": "123456789", "content": "ok"}],
                "tools": TOOLS, "add_generation_prompt": True},
    "documents": {"messages": [U1], "documents": [
        {"title": "Doc A", "text": "Alpha content."}, {"title": "Doc B", "text": "Beta content."}],
        "add_generation_prompt": True},
    "date_var": {"messages": [SYS, U1], "add_generation_prompt": True, "date_string": "01 Jan 2025"},
    "long": {"messages": [SYS] + [m for i in range(8) for m in (
        {"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}."})]
        + [U2], "add_generation_prompt": True},
}


# Unit templates: one feature each, rendered by Jinja2 for the expected text.
# (template, context) pairs; the context is JSON-able.
D = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
     "d": {"b": 2, "a": 1, "C": 3}, "l": [3, 1, 2], "s": "Hello World", "n": None, "f": 2.5, "i": 7,
     "users": [{"name": "bob", "age": 30, "g": "x"}, {"name": "Al", "age": 25, "g": "y"},
               {"name": "cy", "age": 30, "g": "x"}],
     "words": ["b", "A", "c", "a"], "nested": {"x": {"y": [10, 20, {"z": "deep"}]}}, "t": True, "u": "é日🙂"}
UNIT = [
    # whitespace control, trim_blocks, lstrip_blocks
    "a\n  {% if true %}\n    x\n  {% endif %}\nb",
    "a  {%- if true -%}  x  {%- endif -%}  b",
    "{{- '  x  ' -}}  \n  {{ 'y' }}",
    "  {#- c -#}  z\n{# comment #}\nw",
    "a {%+ if true %}x{% endif +%}\nb",
    "line\n    {{ 1 }}\n    {% set x = 2 %}\n{{ x }}",
    "{% raw %}{{ not rendered }}{% endraw %}\n{%- raw -%}  {% x %}  {%- endraw %}",
    "trailing newline kept?\n",
    "windows\r\nnewlines\r\n{{ 1 }}\r\n",
    # literals and printing
    "{{ 1 }} {{ 1.0 }} {{ -0.0 }} {{ 1e3 }} {{ 1_000 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1.5e-7 }} {{ 123456789.123 }}",
    "{{ true }} {{ True }} {{ none }} {{ None }} {{ false }}",
    "{{ [1, 'a', 2.0, none, true, [\"q'uote\"], {'k': 'v'}] }}",
    "{{ (1,) }} {{ (1, 2) }} {{ () }} {{ {'a': (1, 'b')} }}",
    "{{ 'esc\\n\\t\\x41\\u00e9\\\\ \\' \\\" ' }}|{{ \"it's\" }}|{{ 'a' 'b' }}",
    "{{ ['a\\nb', 'it\\'s', \"\\\"\"] }}",
    "{{ d }} {{ l }} {{ u }} {{ [u] }}",
    "{{ 1, 2 }}",
    # arithmetic
    "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 6 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2 ** 3 ** 2 }}",
    "{{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1 + 2.0 }} {{ true + 1 }} {{ 'ab' * 3 }} {{ 3 * 'x' }} {{ [1] * 2 }} {{ [1] + [2] }}",
    "{{ 'a' ~ 1 ~ none ~ [1] ~ 2.0 }} {{ -i }} {{ +f }} {{ - - 3 }}",
    "{{ 1 + 2 * 3 - 4 / 2 }} {{ (1 + 2) * 3 }} {{ 10 - 2 - 3 }}",
    "{{ '%s and %d' % ('x', 3) }} {{ '%05.2f|%-4s|%x|%r' % (3.14159, 'ab', 255, 'q') }} {{ '%(a)s' % {'a': 1} }}",
    # comparisons and logic
    "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 != 2 }} {{ 2 >= 2 }}",
    "{{ 'a' in 'cat' }} {{ 2 in l }} {{ 'a' in d }} {{ 'z' not in d }} {{ 1 in [1.0] }}",
    "{{ 0 or 'x' }} {{ 1 and 'y' }} {{ none or [] }} {{ not 0 }} {{ not none }} {{ '' and 1 }}",
    "{{ 'yes' if t else 'no' }} {{ 'yes' if n else 'no' }} [{{ 'a' if false }}]",
    "{{ x is defined }} {{ i is defined }} {{ d.zz is defined }} {{ n is none }} {{ x is undefined }}",
    # attribute and item access
    "{{ d.a }} {{ d['b'] }} {{ nested.x.y[2].z }} {{ nested['x']['y'][-1]['z'] }} {{ l[0] }} {{ l[-1] }} {{ l.1 }}",
    "[{{ d.missing }}] [{{ l[10] }}] [{{ s.nothing }}] [{{ n.attr }}]",
    "{{ s[0] }} {{ s[-1] }} {{ s[1:4] }} {{ s[::-1] }} {{ s[::2] }} {{ l[1:] }} {{ l[:-1] }} {{ u[1] }} {{ u[::-1] }}",
    "{{ messages[-1].role }} {{ messages[0]['content'] }} {{ (messages|first).content }}",
    "{{ d.items() | list }} {{ d.keys() | list }} {{ d.values() | list }} {{ d.get('a') }} {{ d.get('q', 9) }} {{ d.get('q') }}",
    "{{ l.index(2) }} {{ l.count(3) }} {{ (1, 2, 2).count(2) }}",
    # string methods
    "{{ '  x y  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'b  '.rstrip() }}|{{ '\\n\\nq\\n'.strip('\\n') }}",
    "{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a-b-c'.rsplit('-', 1) }} {{ 'x'.split('x') }}",
    "{{ s.startswith('Hell') }} {{ s.endswith(('x', 'ld')) }} {{ s.upper() }} {{ s.lower() }} {{ 'hello wORLD'.title() }} {{ 'hELLO'.capitalize() }}",
    "{{ s.replace('l', 'L') }} {{ s.replace('l', 'L', 1) }} {{ s.find('o') }} {{ s.find('q') }} {{ s.rfind('o') }} {{ s.count('l') }} {{ u.find('🙂') }}",
    "{{ '{} and {}'.format(1, 'b') }} {{ '{0}{1}{0}'.format('a', 'b') }} {{ '{x}!'.format(x=5) }} {{ '{:>5}|{:<4}|{:^5}|{:.2f}|{:03d}'.format('a', 'b', 'c', 3.14159, 7) }}",
    "{{ '-'.join(['a', 'b']) }} {{ 'a\\nb\\r\\nc'.splitlines() }} {{ 'ab'.center(6, '*') }} {{ '7'.zfill(3) }} {{ 'abc'.isalpha() }} {{ '12'.isdigit() }} {{ 'ab'.islower() }}",
    "{{ 'a=b=c'.partition('=') }} {{ 'pre_x'.removeprefix('pre_') }} {{ 'ABC'.isupper() }} {{ ' '.isspace() }}",
    # statements: for
    "{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
    "{% for x in l %}{{ loop.previtem }}-{{ x }}-{{ loop.nextitem }}|{% endfor %}",
    "{% for x in l %}{{ loop.cycle('a', 'b') }}{% endfor %} {% for x in [1, 1, 2] %}{{ loop.changed(x) }}{% endfor %}",
    "{% for x in l if x > 1 %}{{ x }}/{{ loop.length }} {% endfor %}",
    "{% for x in [] %}no{% else %}empty{% endfor %} {% for x in none_var %}a{% else %}b{% endfor %}",
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {% for k in d %}{{ k }}{% endfor %} {% for c in 'abc' %}{{ c }}.{% endfor %}",
    "{% for a, b in [(1, 2), [3, 4]] %}{{ a + b }} {% endfor %}",
    "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}",
    "{% for x in range(3) %}{% for y in range(2) %}{{ loop.index }}{{ x }}{% endfor %}|{% endfor %}",
    "{% for x in range(2, 10, 3) %}{{ x }}{% endfor %} {{ range(5) | list }} {{ range(5, 0, -2) | list }}",
    "{% set x = 1 %}{% for i in range(3) %}{% set x = x + i %}{{ x }}{% endfor %}|{{ x }}",
    "{% for item in [{'c': [{'c': []}]}, {'c': []}] recursive %}<{{ loop.depth }}{{ loop(item.c) }}>{% endfor %}",
    # set, namespace, with
    "{% set a, b = 1, 2 %}{{ a }}{{ b }} {% set c = [1, 2] %}{{ c }}",
    "{% set ns = namespace(total=0, items=[]) %}{% for x in l %}{% set ns.total = ns.total + x %}{% set ns.items = ns.items + [x] %}{% endfor %}{{ ns.total }} {{ ns.items }}",
    "{% set blk %}inner {{ 1 + 1 }}{% endset %}[{{ blk }}] {% set up | upper %}shout{% endset %}{{ up }}",
    "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]",
    "{% if true %}{% set leak = 1 %}{% endif %}{{ leak }} {% for i in [1] %}{% set noleak = 1 %}{% endfor %}[{{ noleak }}]",
    "{% set ns = namespace(d) %}{{ ns.a }}{{ ns.b }}",
    # macros, call blocks, filter blocks
    "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Bob') }} {{ greet('Al', greeting='Hi') }} {{ greet(name='Cy') }}",
    "{% macro m() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}",
    "{% macro list_it(items) %}{% for i in items %}[{{ caller(i) }}]{% endfor %}{% endmacro %}{% call(x) list_it([1, 2]) %}<{{ x * 10 }}>{% endcall %}",
    "{% macro wrap() %}({{ caller() }}){% endmacro %}{% call wrap() %}body{% endcall %}",
    "{% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}{% endmacro %}{{ rec(4) }}",
    "{% macro m(a, b) %}{{ a }}|{{ b }}{% endmacro %}{{ m(1) }}",
    "{% filter upper %}abc {{ 'def' }}{% endfilter %} {% filter trim | replace('a', 'b') %}  aaa  {% endfilter %}",
    "{% set x = 5 %}{% macro show() %}{{ x }}{% endmacro %}{% set x = 6 %}{{ show() }}",
    "{% generation %}gen {{ 1 }}{% endgeneration %}",
    # filters
    "{{ -3 | abs }} {{ -2.5 | abs }} {{ 'abc' | capitalize }} {{ 'abc' | center(9) }}| {{ l | count }} {{ s | length }} {{ d | length }} {{ u | length }}",
    "{{ x | default('dflt') }} {{ '' | default('dflt') }} {{ '' | default('dflt', true) }} {{ n | d('z') }} {{ 0 | default(5, boolean=true) }}",
    "{{ d | dictsort }} {{ d | dictsort(reverse=true) }} {{ d | dictsort(by='value') }} {{ d | dictsort(true) }}",
    "{{ '<a href=\"x\">&\\'</a>' | e }} {{ '<b>' | escape }} {{ ('<i>' | safe) + '<u>' }} {{ '<x>' | safe | e }} {{ '<q>' | forceescape }}",
    "{{ l | first }} {{ l | last }} {{ 'xyz' | first }} {{ [] | first }}|{{ '3.5' | float }} {{ 'x' | float }} {{ 3 | float }} {{ '42' | int }} {{ '4.9' | int }} {{ 'z' | int(7) }} {{ 3.99 | int }} {{ '0x1A' | int(0, 16) }}",
    "{% for g in users | groupby('age') %}{{ g.grouper }}:{{ g.list | map(attribute='name') | join(',') }};{% endfor %} {% for k, v in users | groupby('g') %}{{ k }}{{ v | length }}{% endfor %}",
    "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent('> ', blank=true) }}|{{ 'x\\n' | indent(first=true) }}",
    "{{ d | items | list }} {% for k, v in d | items %}{{ k }}{% endfor %} {{ l | join }} {{ l | join(', ') }} {{ users | join('/', attribute='name') }}",
    "{{ l | list }} {{ 'ab' | list }} {{ s | lower }} {{ s | upper }} {{ users | map(attribute='name') | list }} {{ words | map('upper') | list }} {{ users | map(attribute='zz', default='?') | list }}",
    "{{ l | max }} {{ l | min }} {{ words | max }} {{ words | min }} {{ users | max(attribute='age') }} {{ words | max(case_sensitive=true) }}",
    "{{ l | reject('odd') | list }} {{ l | select('odd') | list }} {{ users | selectattr('age', 'equalto', 30) | map(attribute='name') | list }} {{ users | rejectattr('age', '==', 30) | list | length }} {{ [0, 1, '', 'a'] | select | list }}",
    "{{ s | replace('o', '0') }} {{ l | reverse | list }} {{ s | reverse }} {{ 2.567 | round(2) }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.1 | round(method='ceil') }} {{ 2.9 | round(0, 'floor') }} {{ 7 | round }}",
    "{{ l | batch(2) | list }} {{ l | batch(2, 'x') | list }} {{ range(7) | slice(3) | list }} {{ l | sort }} {{ words | sort }} {{ words | sort(reverse=true) }} {{ words | sort(case_sensitive=true) }}",
    "{{ users | sort(attribute='age') | map(attribute='name') | list }} {{ users | sort(attribute='name') | map(attribute='name') | join }} {{ 12 | string }} {{ [1] | string }}",
    "{{ '<p>a  <b>b</b>\\n c &amp; d</p>' | striptags }} {{ l | sum }} {{ users | sum(attribute='age') }} {{ [[1], [2]] | sum(start=[]) }}",
    "{{ 'hello wORLD-x(y' | title }} {{ '  pad  ' | trim }}|{{ 'xxpadxx' | trim('x') }} {{ s | truncate(8) }} {{ 'a b c d e f g h i j k l' | truncate(10, leeway=0) }} {{ 'abcdefghijklmnop' | truncate(10, true, '~', 0) }}",
    "{{ words | unique | list }} {{ words | unique(case_sensitive=true) | list }} {{ s | wordcount }} {{ 'x' | upper }} {{ d | attr('items') is defined }} {{ d | attr('a') }}",
    "{{ d | tojson }} {{ l | tojson }} {{ u | tojson }} {{ nested | tojson(indent=2) }} {{ [] | tojson(indent=2) }} {{ {'q': 'a\\\"b\\n'} | tojson }} {{ 'é' | tojson(true) }}",
    "{{ d | tojson(sort_keys=true) }} {{ d | tojson(separators=(',', ':')) }} {{ 1.0 | tojson }} {{ none | tojson }} {{ (1, 2) | tojson }} {{ d | tojson(indent='\\t') }}",
    "{{ 'a %s b' | format('X') }} {{ '%s-%s' | format(1, 2) }} {{ l | map('string') | join('+') }} {{ users | map(attribute='age') | unique | list }}",
    # tests
    "{{ 1 is number }} {{ 1.0 is float }} {{ 1 is integer }} {{ true is integer }} {{ true is boolean }} {{ 'a' is string }} {{ d is mapping }} {{ l is sequence }} {{ s is iterable }} {{ 1 is iterable }}",
    "{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ 1 is eq 1 }} {{ 1 is equalto(2) }} {{ 2 is in [1, 2] }} {{ true is true }} {{ 0 is false }}",
    "{{ 3 is gt 2 }} {{ 3 is lt 2 }} {{ 3 is ge 3 }} {{ 3 is le 2 }} {{ 3 is ne 2 }} {{ none is none }} {{ x is not defined }} {{ d is not string }} {{ greet is defined }} {{ 'upper' is filter }} {{ 'odd' is test }}",
    "{{ l | select('gt', 1) | list }} {{ l | reject('in', [1, 2]) | list }} {{ users | selectattr('name', 'lower') | list | length }} {{ messages | selectattr('role', 'eq', 'user') | list | length }}",
    "{{ users | selectattr('g', 'defined') | list | length }} {{ (users | selectattr('zz')) | list }} {{ [none, 1] | select('none') | list }}",
    # generators and iterators
    "{{ l | select('odd') | tojson }}",
    "{{ l | map('string') | length }}",
    "{% if [] | select %}truthy{% endif %} {{ (l | reverse)[0] }}",
    # undefined behaviour
    "[{{ nope }}] [{{ nope | default('d') }}] [{{ nope | length }}] [{% for x in nope %}x{% endfor %}] [{{ nope is defined }}] [{{ nope == nope }}] [{{ nope ~ 'a' }}] [{{ nope | list }}] [{{ nope | upper }}]",
    "{{ nope.attr }}",
    "{{ nope + 1 }}",
    "{{ nope() }}",
    "{{ d.missing.x }}",
    "{{ d.missing | tojson }}",
    "{{ [1, 2][5] + 1 }}",
    # errors
    "{{ 1 / 0 }}",
    "{{ 'a' + 1 }}",
    "{{ 1 + 'a' }}",
    "{{ [1] + 'a' }}",
    "{{ 1 < 'a' }}",
    "{{ 1 in 'abc' }}",
    "{{ l.append(4) }}",
    "{{ d.pop('a') }}",
    "{% set x = 1 %}{% set x.y = 2 %}",
    "{% for a, b in [1, 2] %}{% endfor %}",
    "{% for a, b in [(1, 2, 3)] %}{% endfor %}",
    "{{ raise_exception('custom: ' ~ messages[0].role) }}",
    "{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}",
    "{% macro m(a) %}{% endmacro %}{{ m(b=2) }}",
    "{{ range(200000) | length }}",
    "{{ 1 is divisibleby 0 }}",
    "{{ (1, 2).x }}{{ 5 | abs(1) if false }}",
    "{% for x in 5 %}{% endfor %}",
    "{{ 'abc' | int + 1 }}",
    "{{ loop }}",
    "{% for x in l %}{{ loop() }}{% endfor %}",
    # real-template idioms
    "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content | trim + '<|im_end|>\\n' }}{%- endfor %}",
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% else %}{% set loop_messages = messages %}{% endif %}{{ loop_messages | length }}",
    "{%- set ns = namespace(found=false) -%}{%- for m in messages -%}{%- if m.role == 'assistant' -%}{%- set ns.found = true -%}{%- endif -%}{%- endfor -%}{{ ns.found }}",
    "{{ messages | map(attribute='content') | join('\\n') }} {{ (messages | last).role }} {{ messages[::-1] | map(attribute='role') | list }}",
    "{{ '%d messages' % messages | length }}",
    "{{ strftime_now('%Y-%m-%d %H:%M %A %B %j') }}",
    "{{ dict(a=1, b='x') }} {{ namespace(a=1) }} {{ joiner is defined }}{% set j = joiner(', ') %}{% for x in l %}{{ j() }}{{ x }}{% endfor %}",
    "{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}{{ c.current }}",
]
UNIT_CTX = D


def special_tokens(config):
    out = {}
    for k in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"):
        v = config.get(k)
        if isinstance(v, dict):
            v = v.get("content")
        if isinstance(v, str):
            out[k] = v
    extra = config.get("additional_special_tokens")
    if isinstance(extra, list):
        out["additional_special_tokens"] = [
            (x.get("content") if isinstance(x, dict) else x) for x in extra
            if isinstance(x, str) or (isinstance(x, dict) and isinstance(x.get("content"), str))]
    return out


def main():
    out_dir = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    testdata = os.environ.get("MLXC_TESTDATA") or os.path.join(here, "..", "..", "..", "shared", "testdata")
    testdata = os.path.abspath(testdata)
    os.makedirs(out_dir, exist_ok=True)
    templates = []  # (name, path, source, defaults)
    for p in sorted(glob.glob(os.path.join(testdata, "chat_templates", "*.jinja"))):
        with open(p, encoding="utf-8") as f:
            src = f.read()
        templates.append((os.path.basename(p)[:-6], p, src, None))
    for p in sorted(glob.glob(os.path.join(testdata, "tokenizers", "hf", "*", "tokenizer_config.json"))):
        with open(p, encoding="utf-8") as f:
            cfg = json.load(f)
        ct = cfg.get("chat_template")
        if isinstance(ct, list):
            ct = next((t["template"] for t in ct if t.get("name") == "default"), None)
        if not isinstance(ct, str):
            continue
        templates.append(("hf-" + os.path.basename(os.path.dirname(p)), p, ct, special_tokens(cfg)))
    if not templates:
        sys.exit(f"gen_chat_template: no templates under {testdata} (set MLXC_TESTDATA)")

    env = make_env()
    lines = []
    counts = {"ok": 0, "raise": 0, "error": 0}
    for tname, tpath, src, defaults in templates:
        tmpl = env.from_string(src)
        for cname, conv in CONVERSATIONS.items():
            ctx = dict(conv)
            ctx.setdefault("tools", None)
            ctx.setdefault("documents", None)
            if defaults is None:
                ctx = {"bos_token": "<s>", "eos_token": "</s>", **ctx}
            case = f"{tname}__{cname}"
            ctx_file = os.path.join(out_dir, case + ".ctx.json")
            with open(ctx_file, "w", encoding="utf-8") as f:
                json.dump(ctx, f, ensure_ascii=False)
            render_vars = dict(defaults or {})
            render_vars.update(ctx)
            try:
                text = tmpl.render(**render_vars)
                status = "ok"
            except jinja2.exceptions.TemplateError as e:
                if type(e) is jinja2.exceptions.TemplateError:
                    status, text = "raise", str(e)
                else:
                    status, text = "error", f"{type(e).__name__}: {e}"
            except Exception as e:  # TypeError etc. from Python operations
                status, text = "error", f"{type(e).__name__}: {e}"
            exp_file = os.path.join(out_dir, case + ".expected")
            with open(exp_file, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            counts[status] += 1
            lines.append("\t".join([case, tpath, ctx_file, exp_file, status]))
    for k, src in enumerate(UNIT):
        case = f"unit_{k:03d}"
        tpath = os.path.join(out_dir, case + ".jinja")
        with open(tpath, "w", encoding="utf-8", newline="") as f:
            f.write(src)
        ctx_file = os.path.join(out_dir, case + ".ctx.json")
        with open(ctx_file, "w", encoding="utf-8") as f:
            json.dump(UNIT_CTX, f, ensure_ascii=False)
        try:
            text = env.from_string(src).render(**UNIT_CTX)
            status = "ok"
        except jinja2.exceptions.TemplateError as e:
            if type(e) is jinja2.exceptions.TemplateError:
                status, text = "raise", str(e)
            else:
                status, text = "error", f"{type(e).__name__}: {e}"
        except Exception as e:
            status, text = "error", f"{type(e).__name__}: {e}"
        exp_file = os.path.join(out_dir, case + ".expected")
        with open(exp_file, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        counts[status] += 1
        lines.append("\t".join([case, tpath, ctx_file, exp_file, status]))
    with open(os.path.join(out_dir, "cases.tsv"), "w", encoding="utf-8") as f:
        f.write(f"#now\t{FIXED_EPOCH}\n")
        f.write("\n".join(lines) + "\n")
    print(f"gen_chat_template: {len(templates)} templates x {len(CONVERSATIONS)} conversations + {len(UNIT)} unit templates: "
          f"{counts['ok']} ok, {counts['raise']} raise_exception, {counts['error']} other errors")


if __name__ == "__main__":
    main()
