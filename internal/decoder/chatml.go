package decoder

import (
	"strings"

	"github.com/dllmgo/dllm/data"
)

// ChatML is the Qwen chat format that Dream-Instruct and the Qwen-based A2D
// models read:
//
//	<|im_start|>{role}\n{content}<|im_end|>\n      per message
//	<|im_start|>assistant\n                         the generation prompt
//
// With a DefaultSystem, a conversation that does not open with a system
// message gets one with that text first (Qwen2.5's "You are a helpful
// assistant.").
type ChatML struct {
	DefaultSystem string
	// JinjaText is the template as Jinja text for tokenizer_config.json.
	JinjaText string
}

const (
	imStart = "<|im_start|>"
	imEnd   = "<|im_end|>"
)

// Render implements data.Template.
func (c ChatML) Render(messages []data.Message, addGenerationPrompt bool) (string, error) {
	if len(messages) == 0 {
		return "", data.ErrNoMessages
	}
	var b strings.Builder
	if c.DefaultSystem != "" && messages[0].Role != "system" {
		b.WriteString(imStart + "system\n" + c.DefaultSystem + imEnd + "\n")
	}
	for _, m := range messages {
		b.WriteString(imStart + m.Role + "\n" + m.Content + imEnd + "\n")
	}
	if addGenerationPrompt && messages[len(messages)-1].Role != "assistant" {
		b.WriteString(imStart + "assistant\n")
	}
	return b.String(), nil
}

// EndOfTurn implements data.Template.
func (ChatML) EndOfTurn() string { return imEnd }

// Answer implements data.Template: the text up to the first <|im_end|>,
// trimmed.
func (ChatML) Answer(generated string) string {
	if i := strings.Index(generated, imEnd); i >= 0 {
		generated = generated[:i]
	}
	return strings.TrimSpace(generated)
}

// Jinja implements data.Template.
func (c ChatML) Jinja() string { return c.JinjaText }

// ChatMLJinja is ChatML without a default system message, as Jinja text.
const ChatMLJinja = `{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{%- endfor %}{%- if add_generation_prompt and messages[-1]['role'] != 'assistant' %}{{- '<|im_start|>assistant\n' }}{%- endif %}`

// ChatMLSystemJinja is ChatML with Qwen2.5's default system message.
const ChatMLSystemJinja = `{%- if messages[0]['role'] != 'system' %}{{- '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{%- endif %}` + ChatMLJinja

// DefaultSystem is Qwen2.5's system message where a conversation has none.
const DefaultSystem = "You are a helpful assistant."
