// Package chattemplate renders the chat templates that model folders carry:
// the Jinja text of tokenizer_config.json's chat_template, run as Hugging
// Face transformers' apply_chat_template(..., tokenize=False) runs it.
//
// transformers compiles the text with jinja2 in an immutable sandbox, with
// trim_blocks and lstrip_blocks (a block tag eats the newline after it and
// the spaces before it), the loopcontrols extension ({% break %},
// {% continue %}), its own tojson (json.dumps with ensure_ascii=False, keys
// in insertion order) and two globals, raise_exception(message) and
// strftime_now(format). It renders with messages, tools, documents,
// add_generation_prompt, the tokenizer's special tokens by name (bos_token,
// eos_token, ...) and any extra keyword (enable_thinking).
//
// The engine is github.com/ardanlabs/jinja, a Jinja implementation in Go
// written for chat templates, which applies the same trim_blocks and
// lstrip_blocks rules. This package adds what a model folder needs around
// it:
//
//   - conversations decoded from JSON keep the order of their keys, so tojson
//     writes a tool's schema as Python would;
//   - range() is capped at 100000 items, as jinja2's sandbox caps it;
//   - a template whose macros call themselves is refused when it is parsed:
//     the engine has no depth limit, and runaway recursion would crash the
//     process rather than fail (jinja2 would render a recursion that ends;
//     none of the chat templates checked recurses);
//   - a rendering that has not finished within Template.Timeout fails (the
//     rendering goroutine is left to finish on its own);
//   - Parse renders a probe conversation once, to find the template's end of
//     turn (the text it writes after an answer: <|im_end|>, <|eot_id|>) and
//     to catch a template that never finishes before it is used.
//
// The tests compare every rendering with jinja2's (testdata/renderings.json,
// written by testdata/gen_renderings.py) on templates of the shapes model
// folders carry: Llama-3 headers (LLaDA-Instruct), ChatML (Dream-Instruct,
// Qwen2.5 with tools, Qwen3 with thinking blocks), strict role alternation
// with raise_exception, and the BERT chat template; and, when the npm
// packages that ship them are installed (scripts/chat-template-deps.sh), on
// the real Qwen3 and Llama-3 templates.
//
// Where the engine differs from jinja2 (the tests pin each):
//
//   - tojson(indent=N) sorts the keys (without indent it keeps their order);
//   - reading into something missing (messages[0] of an empty conversation)
//     gives an undefined value where jinja2 raises UndefinedError;
//   - the trim filter and .strip() keep U+001C..U+001F, which Python strips
//     (modeldir therefore renders the BERT chat template natively);
//   - recursive macros are refused (above); the {% generation %} tag of
//     transformers' AssistantTracker is not known.
//
// Template implements data.Template, so a model folder's own template drives
// chat, generate, serve and SFT exactly as the built-in ones do.
package chattemplate
