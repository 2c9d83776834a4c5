package tensor

import (
	"fmt"
	"sort"
	"sync"
)

// A device registers an opener under its name; the CUDA backend does so from
// its package's init, so importing it for side effects makes "cuda" available.
var (
	registryMu sync.Mutex
	registry   = map[string]func() (Backend, error){
		"cpu": func() (Backend, error) { return CPU(), nil },
	}
	opened = map[string]Backend{}
)

// Register makes a backend available to Open under name. It panics if the
// name is taken: two drivers for one device is a programming error.
func Register(name string, open func() (Backend, error)) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("tensor: backend registered twice: " + name)
	}
	registry[name] = open
}

// Open returns the backend called name, opening it on first use. Opening can
// fail (no GPU, no driver); the error says why.
func Open(name string) (Backend, error) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if b, ok := opened[name]; ok {
		return b, nil
	}
	open, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown device %q (available: %v)", name, devicesLocked())
	}
	b, err := open()
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", name, err)
	}
	opened[name] = b
	return b, nil
}

// Devices lists the registered device names.
func Devices() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	return devicesLocked()
}

func devicesLocked() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
