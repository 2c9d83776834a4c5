package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/dllmgo/dllm/replicate"
)

// dllm replicate reproduces the reference's findings at small scale
// (package replicate): SFT from four starting points, the sampling table,
// REPORT.md.
func init() {
	register(&command{
		name:    "replicate",
		summary: "reproduce the reference's findings at small scale: SFT from four starting points, sampling speed, REPORT.md",
		run:     runReplicate,
	})
}

func runReplicate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("replicate", stderr)
	out := fs.String("out", "", "output folder: stages/, sft.png, REPORT.md (required; a run started again there skips its finished stages)")
	corpora := fs.String("corpora", "corpora", "the folder scripts/fetch-corpora.sh fills (sotu.jsonl, moby-dick.jsonl, wordnet-define.jsonl)")
	quick := fs.Bool("quick", false, "the quick size: "+replicate.Quick.Budget+" (the default size: "+replicate.Full.Budget+")")
	size := fs.String("size", "", "full, quick or tiny (tiny: seconds, a test of the pipeline); overrides --quick")
	seeds := fs.Int("seeds", 0, "SFT seeds per starting point (0: the size's, 3)")
	device := fs.String("device", "cpu", "device: cpu or cuda")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	name := "full"
	if *quick {
		name = "quick"
	}
	if *size != "" {
		name = *size
	}
	sz, err := replicate.SizeByName(name)
	if err != nil {
		return badInput("--size: %v", err)
	}
	switch {
	case *out == "":
		return badInput("--out is required")
	case *seeds < 0:
		return badInput("--seeds must be at least 1, got %d", *seeds)
	case *seeds > 0:
		sz.Seeds = *seeds
	}
	cfg := replicate.Config{Out: *out, Corpora: *corpora, Size: sz, Device: *device, Log: stderr}
	if err := cfg.Check(); err != nil {
		return badInput("%v", err)
	}
	be, err := openDevice(*device)
	if err != nil {
		return err
	}
	cfg.Backend = be
	fmt.Fprintf(stderr, "replicate: size %s (%s) into %s\n", sz.Name, sz.Budget, *out)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if err := replicate.Run(ctx, cfg); err != nil {
		if ctx.Err() != nil || errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted; run the same command again to continue (finished stages are kept): %w", err)
		}
		return err
	}
	fmt.Fprintln(stdout, filepath.Join(*out, replicate.ReportFile))
	return nil
}
