package modeldir

import (
	"github.com/dllmgo/dllm/editflow"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/tensor"
)

// load reads dir's weights through its family and, when config.json marks
// an Edit Flows folder, puts the saved edit heads on them (an
// *editflow.Model), so every command opens such a folder as one.
func load(fam lm.Family, dir string, be tensor.Backend, opt Options) (lm.Model, error) {
	read := fam.Load
	if opt.BF16Weights && fam.LoadBF16 != nil {
		read = fam.LoadBF16
	}
	m, err := read(dir, be)
	if err != nil {
		return nil, err
	}
	return editflow.Wrap(dir, m)
}
