//go:build !unix || purego

package safetensors

import "os"

// mapReadOnly maps nothing here: Map reads the file instead.
func mapReadOnly(*os.File, int) ([]byte, error) { return nil, nil }
