// Command dllm trains and runs diffusion language models: a BERT taught to chat by
// masked diffusion, from the tensor up.
//
// Each subcommand lives in its own file and registers itself in init with
// register, so the commands read as independent small programs.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sort"
)

// command is one subcommand of dllm.
type command struct {
	name    string // as typed: "forward", "tokenizer train"
	summary string // one line for the command list
	// run executes the command. args excludes the command's own name.
	// It returns a usageError (exit 2) for bad input, another error (exit 1)
	// for failures of the machine or the program.
	run func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

// register adds a subcommand; called from init functions.
func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("dllm: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// usageError marks an error caused by the user's input: a bad flag, a missing or
// malformed file. It makes dllm exit with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// badInput formats a usageError.
func badInput(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// newFlagSet returns a FlagSet that reports errors instead of exiting, so the
// caller can turn them into a usageError.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("dllm "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args and maps flag errors to usageError, reported as one
// line; -h prints the flags and gives errHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard) // the flag package would print the whole usage on any error
	err := fs.Parse(args)
	fs.SetOutput(out)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
			return errHelp
		}
		return usageError{err}
	}
	return nil
}

// noArgs rejects positional arguments for commands that take only flags.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	return nil
}

var errHelp = errors.New("help requested")

func main() {
	// DLLM_CPUPROFILE=file profiles any command (go tool pprof reads it).
	if path := os.Getenv("DLLM_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			code := run(os.Args[1:], os.Stdout, os.Stderr)
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the process exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printCommands(stdout)
		return 0
	}
	// Two-word commands ("tokenizer train") take precedence over one-word ones.
	var cmd *command
	var rest []string
	if len(args) >= 2 {
		if c, ok := commands[args[0]+" "+args[1]]; ok {
			cmd, rest = c, args[2:]
		}
	}
	if cmd == nil {
		c, ok := commands[args[0]]
		if !ok {
			fmt.Fprintf(stderr, "dllm: unknown command %q (run 'dllm help' for the list)\n", args[0])
			return 2
		}
		cmd, rest = c, args[1:]
	}
	err := cmd.run(rest, stdout, stderr)
	code := 1
	switch {
	case err == nil, errors.Is(err, errHelp):
		code = 0
	case isUsage(err):
		code = 2
	}
	if activeComm != nil { // one rank of a data-parallel job
		return finishDist(cmd.name, err, code, stderr)
	}
	if code != 0 {
		fmt.Fprintf(stderr, "dllm %s: %v\n", cmd.name, err)
	}
	return code
}

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

func printCommands(w io.Writer) {
	fmt.Fprintln(w, "dllm: diffusion language models from the tensor up.")
	fmt.Fprintln(w, "\nUsage: dllm <command> [flags]   (dllm <command> -h for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-18s %s\n", n, commands[n].summary)
	}
}
