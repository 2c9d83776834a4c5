package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"

	"github.com/dllmgo/dllm/internal/atomicfile"
)

// metricsLog appends one JSON object per line to OUT/metrics.jsonl. It is
// the machine-readable record of a run; a nil log writes nothing.
type metricsLog struct {
	f   *os.File
	enc *json.Encoder
}

// openMetrics opens dir/metrics.jsonl for a run at step: a new run (step
// 0) starts the file afresh; a resumed one keeps the lines of the steps up
// to its checkpoint's and drops the rest (the steps a crashed session made
// after its last checkpoint, which the resumed run makes again, and a line
// torn by the crash), so that the file holds each step once.
func openMetrics(dir string, step int) (*metricsLog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, metricsFile)
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if step > 0 {
		if err := truncateMetrics(path, step); err != nil {
			return nil, err
		}
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, err
	}
	return &metricsLog{f: f, enc: json.NewEncoder(f)}, nil
}

const metricsFile = "metrics.jsonl"

// truncateMetrics rewrites the log at path (atomically) without the lines
// past step and without lines that do not parse.
func truncateMetrics(path string, step int) error {
	js, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var kept bytes.Buffer
	for line := range bytes.Lines(js) {
		var l struct {
			Step *int `json:"step"`
		}
		if !bytes.HasSuffix(line, []byte("\n")) || json.Unmarshal(line, &l) != nil || l.Step == nil || *l.Step > step {
			continue
		}
		kept.Write(line)
	}
	if kept.Len() == len(js) {
		return nil
	}
	return atomicfile.WriteBytes(path, kept.Bytes(), 0o644)
}

func (l *metricsLog) write(v map[string]any) {
	if l != nil {
		l.enc.Encode(v)
	}
}

func (l *metricsLog) Close() error {
	if l == nil {
		return nil
	}
	return l.f.Close()
}
