package serve

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// What a sampler leaves of the template's end-of-turn marker ("[/Answer"
// before the padding, "AnswerAnswer]" from the ancestral sampler) is cut
// from a served answer as dllm generate cuts it; stop strings still apply.
func TestAnswerTextCutsEndMarker(t *testing.T) {
	m := newTestModel(t, "tiny")
	s := New(m, Options{})
	defer s.Close()
	for _, tc := range []struct {
		text, want string
		stops      []string
	}{
		{"the fox [/Answer", "the fox", nil},
		{"the fox AnswerAnswer]", "the fox", nil},
		{"the fox [/Answer] river", "the fox", nil},
		{"the fox river", "the fox river", nil},
		{"the fox river [/", "the", []string{"fox"}},
	} {
		got, _ := s.answerText(m.Encode(tc.text), tc.stops)
		assert.Equal(t, tc.want, got, "%q", tc.text)
	}
}
