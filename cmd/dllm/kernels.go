package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/dllmgo/dllm/kernels"
	"github.com/dllmgo/dllm/kernels/cu"
)

func init() {
	register(&command{
		name:    "kernels compile",
		summary: "compile every CUDA kernel with NVRTC into the kernel cache and print each one's registers, spills and occupancy",
		run:     runKernelsCompile,
	})
}

func runKernelsCompile(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("kernels compile", stderr)
	archs := fs.String("arch", "", "comma-separated architectures, e.g. sm_80,sm_90 (default: the local GPU's)")
	cache := fs.String("cache", kernels.CacheDir(), "kernel cache folder to fill (empty: do not store the cubins)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	list := *archs
	if list == "" {
		ctx, err := cu.NewContext(0)
		if err != nil {
			return badInput("no local GPU to take the architecture from (%v): pass --arch sm_80,sm_90", err)
		}
		list = fmt.Sprintf("sm_%d%d", ctx.Device.Major, ctx.Device.Minor)
		ctx.Close()
	}
	for _, arch := range strings.Split(list, ",") {
		arch = strings.TrimSpace(arch)
		var n int
		if _, err := fmt.Sscanf(arch, "sm_%d", &n); err != nil || n < 80 {
			return badInput("--arch: %q is not an architecture the kernels support (sm_80 or newer)", arch)
		}
		stats, err := kernels.Report(arch, *cache)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", arch)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "file\tentry\tregs\tspill st/ld\tshared static+dyn\tthreads\tblocks/SM\twarps/SM\tlimited by\t")
		for _, s := range stats {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d/%d\t%d+%d\t%d\t%d\t%d\t%s\t\n", s.File, s.Entry, s.Registers, s.SpillStores, s.SpillLoads,
				s.StaticShared, s.DynamicShared, s.Threads, s.Blocks, s.Warps, s.Limit)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
