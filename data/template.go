package data

import (
	"errors"
	"strings"
)

// Message is one turn of a conversation, in the JSON shape chat datasets use.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// The roles a conversation may hold.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Template renders a conversation into the text the model reads.
type Template interface {
	// Render renders messages. With addGenerationPrompt, a conversation whose last
	// message is not the assistant's ends with the opening of an answer, so the
	// model's continuation is the reply.
	Render(messages []Message, addGenerationPrompt bool) (string, error)
	// EndOfTurn is the plain-text marker that closes an answer.
	EndOfTurn() string
	// Answer cuts generated text at the first end-of-turn marker and trims it.
	Answer(generated string) string
	// Jinja is the same template as Jinja text, for tokenizer_config.json.
	Jinja() string
}

// ChatTemplateJinja is the BERT chat template as Jinja text, exactly as the
// reference framework sets it on BERT-family tokenizers. Hugging Face transformers
// renders it with trim_blocks and lstrip_blocks, which gives the same text as
// BertChatTemplate.Render (checked against jinja2 by TestBertChatMatchesJinjaGolden).
const ChatTemplateJinja = `{% if messages[0]['role'] == 'system' %}
[SYS]
{{ messages[0]['content'] | trim }}
[/SYS]

{% set loop_messages = messages[1:] %}
{% else %}
{% set loop_messages = messages %}
{% endif -%}
{%- for message in loop_messages %}
{% if message['role'] == 'user' %}
[Question]
{{ message['content'] | trim }}
[/Question]

{% elif message['role'] == 'assistant' %}
[Answer]
{{ message['content'] | trim }}
[/Answer]

{% endif %}
{% endfor -%}
{%- if add_generation_prompt and (loop_messages | length == 0 or loop_messages[-1]['role'] != 'assistant') %}
[Answer]
{% endif %}
`

// BertChatTemplate is the chat template the reference uses to teach a BERT to chat:
//
//	[SYS]\n{system}\n[/SYS]\n\n          only when the first message is a system message
//	[Question]\n{user}\n[/Question]\n\n
//	[Answer]\n{assistant}\n[/Answer]\n\n
//
// Content is trimmed; no [CLS]/[SEP] is added; the generation prompt is
// "[Answer]\n". It mirrors the Jinja text exactly, quirks included: a system
// message anywhere but first, and any role other than user or assistant, renders
// as nothing.
type BertChatTemplate struct{}

// BertChat is the BERT chat template.
var BertChat = BertChatTemplate{}

// The pieces of the BERT chat template.
const (
	bertSystemOpen    = "[SYS]\n"
	bertSystemClose   = "\n[/SYS]\n\n"
	bertQuestionOpen  = "[Question]\n"
	bertQuestionClose = "\n[/Question]\n\n"
	bertAnswerOpen    = "[Answer]\n"
	bertAnswerClose   = "\n[/Answer]\n\n"
	bertEndOfTurn     = "[/Answer]"
)

// ErrNoMessages is returned when rendering an empty conversation (the Jinja
// template fails on it too: it reads messages[0]).
var ErrNoMessages = errors.New("chat template: conversation has no messages")

// Render implements Template.
func (BertChatTemplate) Render(messages []Message, addGenerationPrompt bool) (string, error) {
	if len(messages) == 0 {
		return "", ErrNoMessages
	}
	var b strings.Builder
	loop := messages
	if messages[0].Role == RoleSystem {
		b.WriteString(bertSystemOpen)
		b.WriteString(pyTrim(messages[0].Content))
		b.WriteString(bertSystemClose)
		loop = messages[1:]
	}
	for _, m := range loop {
		switch m.Role {
		case RoleUser:
			b.WriteString(bertQuestionOpen)
			b.WriteString(pyTrim(m.Content))
			b.WriteString(bertQuestionClose)
		case RoleAssistant:
			b.WriteString(bertAnswerOpen)
			b.WriteString(pyTrim(m.Content))
			b.WriteString(bertAnswerClose)
		}
	}
	if addGenerationPrompt && (len(loop) == 0 || loop[len(loop)-1].Role != RoleAssistant) {
		b.WriteString(bertAnswerOpen)
	}
	return b.String(), nil
}

// EndOfTurn implements Template.
func (BertChatTemplate) EndOfTurn() string { return bertEndOfTurn }

// Answer implements Template.
func (BertChatTemplate) Answer(generated string) string {
	if i := strings.Index(generated, bertEndOfTurn); i >= 0 {
		generated = generated[:i]
	}
	return pyTrim(generated)
}

// Jinja implements Template.
func (BertChatTemplate) Jinja() string { return ChatTemplateJinja }

// pyTrim trims whitespace as Python's str.strip does, which is what Jinja's trim
// filter calls. Python counts U+001C..U+001F as whitespace; Go's unicode.IsSpace
// does not, so strings.TrimSpace would differ on them.
func pyTrim(s string) string { return strings.TrimFunc(s, isPySpace) }

func isPySpace(r rune) bool {
	switch {
	case r >= '\t' && r <= '\r', r >= 0x1c && r <= 0x20:
		return true
	case r < 0x85:
		return false
	}
	switch r {
	case 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}
