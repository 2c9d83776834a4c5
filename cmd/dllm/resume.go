package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/train"
)

// A training run describes itself: every checkpoint records the value of
// every flag (defaults resolved: the learning rate a fine-tune got, the
// loss weighting a family chose, --max-length as capped), the data files
// with their sizes and SHA-256, the tokenizer's and the model's hashes, the
// device and the program's version (train.RunSpec). `dllm sft --resume OUT`
// needs nothing else; a flag given again must agree with the record, except
// those in changeableOnResume.

// changeableOnResume are the flags a resumed run may change. --steps may
// only grow: the schedule is then that of the longer run (as if it had been
// asked for from the start).
var changeableOnResume = []string{"eval-every", "save-every", "time-budget", "steps", "keep-last", "samples", "eval-answers"}

// notRecorded are flags that say where a run starts from, which a resumed
// run takes from its checkpoint (validate refuses them with --resume).
var notRecorded = []string{"init", "family", "preset"}

// resumeFlags finds --resume's checkpoint and fills the flags not given from
// its record; a given flag that differs from the record is refused, naming
// both values. --out defaults to the run's folder.
func (f *trainFlags) resumeFlags(fs *flag.FlagSet) error {
	dir, err := train.FindCheckpoint(f.resume)
	if err != nil {
		return badInput("--resume: %v", err)
	}
	spec, _, err := train.ReadRunSpec(dir)
	if err != nil {
		return badInput("--resume: %v", err)
	}
	f.checkpoint, f.recorded = dir, spec
	if f.out == "" {
		if f.out = train.RunDir(dir); f.out == "" {
			return badInput("--resume %s: a checkpoint outside a run's checkpoints/ folder: give --out", dir)
		}
	}
	if spec == nil {
		return nil // a checkpoint older than run records: the command line as given
	}
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	// A run recorded before early stopping existed had none.
	for name, off := range map[string]string{"patience": "0", "keep-best": "false"} {
		if _, ok := spec.Flags[name]; !ok && !given[name] && fs.Lookup(name) != nil {
			if err := fs.Set(name, off); err != nil {
				return err
			}
		}
	}
	names := make([]string, 0, len(spec.Flags))
	for name := range spec.Flags {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		was := spec.Flags[name]
		fl := fs.Lookup(name)
		if fl == nil || slices.Contains(notRecorded, name) {
			continue
		}
		if !given[name] {
			if err := fs.Set(name, was); err != nil {
				return badInput("--resume %s: the recorded --%s %q: %v", dir, name, was, err)
			}
			continue
		}
		now := fl.Value.String()
		if now == was || name == "data" || mayChange(name, was, now) { // data is compared by content (checkData)
			continue
		}
		if name == "steps" {
			return badInput("--steps: the run was started with %s, the command line says %s (a resumed run may be made longer, not shorter)", was, now)
		}
		return badInput("--%s: the run was started with %s, the command line says %s (on --resume only --%s and a longer --steps may change)",
			name, was, now, strings.Join(slices.DeleteFunc(slices.Clone(changeableOnResume), func(s string) bool { return s == "steps" }), ", --"))
	}
	return nil
}

func mayChange(name, was, now string) bool {
	if name == "steps" {
		w, err1 := strconv.Atoi(was)
		n, err2 := strconv.Atoi(now)
		return err1 == nil && err2 == nil && n >= w
	}
	return slices.Contains(changeableOnResume, name)
}

// claimOut takes --out for this run (train.ClaimOut): refused when another
// run holds it or when it holds something that is not the run --resume
// continues, unless --overwrite. A folder this run created is removed again
// by release if nothing was written into it.
func (f *trainFlags) claimOut(fs *flag.FlagSet) error {
	if f.comm != nil && f.comm.Rank() != 0 {
		f.release = func() {} // rank 0 alone writes, and holds the folder
		return nil
	}
	resuming := f.checkpoint != "" && train.RunDir(f.checkpoint) != "" && sameDir(train.RunDir(f.checkpoint), f.out)
	if f.overwrite {
		inputs := []string{f.initDir, f.tokPath}
		if fl := fs.Lookup("data"); fl != nil {
			inputs = append(inputs, splitList(fl.Value.String())...)
		}
		for _, in := range inputs {
			if in != "" && within(in, f.out) {
				return badInput("--overwrite would delete %s, an input of this run, inside --out %s", in, f.out)
			}
		}
	}
	_, statErr := os.Stat(f.out)
	created := errors.Is(statErr, os.ErrNotExist)
	release, err := train.ClaimOut(f.out, train.Claim{Resume: resuming, Overwrite: f.overwrite})
	if errors.Is(err, train.ErrNotEmpty) {
		return badInput("--out %v: continue its run with --resume %s, or give --overwrite to replace it", err, f.out)
	}
	if err != nil {
		return badInput("--out %v", err)
	}
	f.release = func() {
		release()
		if created {
			os.Remove(f.out) // only if empty: nothing was written
		}
	}
	return nil
}

// checkData hashes the training files (before they are read as data) and,
// on --resume, refuses data that is not the data the run was trained on.
func (f *trainFlags) checkData(files []string) error {
	f.digests = f.digests[:0]
	for _, p := range files {
		d, err := train.DigestFile(p)
		if err != nil {
			return badInput("%v", err)
		}
		if abs, err := filepath.Abs(p); err == nil {
			d.Path = abs
		}
		f.digests = append(f.digests, d)
	}
	if f.recorded == nil || f.recorded.Data == nil {
		return nil
	}
	was := f.recorded.Data
	if len(was) != len(f.digests) {
		return badInput("--data: the run was trained on %d files (%s), the command line gives %d (%s)",
			len(was), digestNames(was), len(f.digests), digestNames(f.digests))
	}
	for i, d := range f.digests {
		w := was[i]
		if (d.Size != w.Size || d.SHA256 != w.SHA256) && d.Path != w.Path {
			return badInput("--data: the run was trained on %s (%d bytes, sha256 %.12s), the command line gives %s (%d bytes, sha256 %.12s)",
				w.Path, w.Size, w.SHA256, d.Path, d.Size, d.SHA256)
		}
		if d.Size != w.Size || d.SHA256 != w.SHA256 {
			return badInput("--data: %s changed since the checkpoint (it was %d bytes, sha256 %.12s; it is %d bytes, sha256 %.12s)",
				d.Path, w.Size, w.SHA256, d.Size, d.SHA256)
		}
	}
	return nil
}

func digestNames(ds []train.FileDigest) string {
	var names []string
	for _, d := range ds {
		names = append(names, filepath.Base(d.Path))
	}
	return strings.Join(names, ", ")
}

// runSpec is the record of this run that its checkpoints carry.
func (f *trainFlags) runSpec(fs *flag.FlagSet, command string, b *modeldir.Bundle, be tensor.Backend) *train.RunSpec {
	flags := map[string]string{}
	fs.VisitAll(func(fl *flag.Flag) {
		switch fl.Name {
		case "resume", "out", "overwrite":
		default:
			flags[fl.Name] = fl.Value.String()
		}
	})
	if v, ok := flags["data"]; ok {
		var abs []string
		for _, p := range splitList(v) {
			if a, err := filepath.Abs(p); err == nil {
				p = a
			}
			abs = append(abs, p)
		}
		flags["data"] = strings.Join(abs, ",")
	}
	spec := &train.RunSpec{Command: command, Flags: flags, Data: f.digests, Device: f.onDevice(be), Version: buildVersion()}
	if js, err := b.Tokenizer.MarshalJSON(); err == nil {
		spec.TokenizerSHA256 = train.HashBytes(js)
	}
	// The model's architecture: its spec and every parameter's name and
	// shape.
	var arch strings.Builder
	fmt.Fprintf(&arch, "%+v\n", b.Model.Spec())
	for _, p := range b.Model.Params() {
		fmt.Fprintf(&arch, "%s %v\n", p.Name, p.Value.Shape())
	}
	spec.ModelConfigSHA256 = train.HashBytes([]byte(arch.String()))
	return spec
}

// buildVersion is the program's version: its module version and, when
// built from a repository, the commit.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	return v
}

// sameDir reports whether a and b name the same folder.
func sameDir(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// within reports whether path is dir or inside it.
func within(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
