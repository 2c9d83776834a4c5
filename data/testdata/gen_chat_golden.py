"""Writes chat_golden.jsonl: conversations rendered by jinja2 the way Hugging Face
transformers renders chat templates (sandboxed, trim_blocks, lstrip_blocks), from
bert_chat_template.jinja. The Go tests render the same conversations natively and
compare. Also writes py_whitespace.json, the code points Python's str.strip removes.

Run from this folder: python3 gen_chat_golden.py  (needs jinja2)
"""
import json
import random
import sys

from jinja2.sandbox import ImmutableSandboxedEnvironment

WORDS = ["alpha", "beta", "le café", "42", "x+y=z", "[Answer]", "{{ not jinja }}", "naïve",
         "日本語", "emoji 🙂", "tab\there", "line\nbreak", "quote \"q\"", "back\\slash"]
PADS = ["", " ", "\n", "\t", "  \n ", "\u00a0", "\u3000", "\x1c", "\x1f\n", "\u2009", "\u200b"]
ROLES = ["system", "user", "assistant", "user", "assistant", "tool"]


def content(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randint(0, 5))]
    return rng.choice(PADS) + " ".join(words) + rng.choice(PADS)


def conversation(rng):
    n = rng.randint(0, 6)
    msgs = []
    for i in range(n):
        role = rng.choice(ROLES)
        if i == 0 and rng.random() < 0.4:
            role = "system"
        msgs.append({"role": role, "content": content(rng)})
    # Most real conversations alternate user/assistant; keep many of those.
    if rng.random() < 0.5 and n > 0:
        start = 1 if msgs[0]["role"] == "system" else 0
        for j in range(start, n):
            msgs[j]["role"] = "user" if (j - start) % 2 == 0 else "assistant"
    return msgs


def main():
    with open("bert_chat_template.jinja", encoding="utf-8") as f:
        template_text = f.read()
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(template_text)
    rng = random.Random(20240601)
    with open("chat_golden.jsonl", "w", encoding="utf-8") as out:
        for _ in range(300):
            msgs = conversation(rng)
            gen = rng.random() < 0.5
            row = {"messages": msgs, "add_generation_prompt": gen}
            try:
                row["text"] = template.render(messages=msgs, add_generation_prompt=gen)
            except Exception as e:  # empty conversation: messages[0] is undefined
                row["error"] = type(e).__name__
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    spaces = [c for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    with open("py_whitespace.json", "w") as out:
        json.dump(spaces, out)
        out.write("\n")


if __name__ == "__main__":
    main()
