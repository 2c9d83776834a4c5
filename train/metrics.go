package train

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// metricsLog appends one JSON object per line to OUT/metrics.jsonl. It is
// the machine-readable record of a run; a nil log writes nothing.
type metricsLog struct {
	f   *os.File
	enc *json.Encoder
}

func openMetrics(dir string, appendTo bool) (*metricsLog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(filepath.Join(dir, "metrics.jsonl"), flags, 0o644)
	if err != nil {
		return nil, err
	}
	return &metricsLog{f: f, enc: json.NewEncoder(f)}, nil
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
