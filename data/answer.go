package data

import "strings"

// NormalizeAnswer is the one form in which dllm compares a generated answer
// with a reference (dllm eval, the samples sft prints, dllm demo, the
// synthetic tasks): the words of s joined by single spaces, so leading,
// trailing and repeated whitespace (newlines included) does not count.
func NormalizeAnswer(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// SameAnswer reports whether a generated answer matches a reference,
// ignoring how the words are spaced (NormalizeAnswer).
func SameAnswer(got, want string) bool {
	return NormalizeAnswer(got) == NormalizeAnswer(want)
}
