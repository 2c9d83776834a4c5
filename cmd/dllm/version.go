package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// buildRevision is the revision `make build` stamps in with -ldflags -X
// (git describe --always --dirty), for builds where the go command records
// no VCS information (-buildvcs=false, a copy of the tree without .git).
var buildRevision string

// versionLine is what `dllm --version` prints: the module version (a
// tagged release, or "(devel)" for a build from a checkout), the VCS
// revision and time the go command stamped into the binary, and the Go
// version. Without build information (a test binary) it says so.
func versionLine() string {
	return "dllm " + programVersion() + " " + runtime.Version()
}

// programVersion is the version, revision and time of this build, as one
// word-separated string ("(devel) rev 1a2b3c4d5e6f 2026-12-04T22:00:00Z
// modified").
func programVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(no build information)"
	}
	parts := []string{bi.Main.Version}
	if parts[0] == "" {
		parts[0] = "(devel)"
	}
	var rev, at, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "modified"
			}
		}
	}
	switch {
	case rev != "":
		parts = append(parts, fmt.Sprintf("rev %.12s", rev))
	case buildRevision != "":
		parts = append(parts, "rev "+buildRevision)
	}
	for _, p := range []string{at, modified} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}
