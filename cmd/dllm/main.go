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
	"strings"
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
	// The flag package would print the whole usage on any error, and on -h
	// before returning ErrHelp (then the usage came out twice): both are
	// silenced during Parse, and -h prints the usage once below.
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
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
	if len(args) == 0 {
		printCommands(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		printCommands(stdout)
		return 0
	case "help":
		return runHelp(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionLine())
		return 0
	}
	cmd, rest, code := findCommand(args, stderr)
	if code == -1 {
		printGroup(stdout, groupCommands(args[0]))
		return 0
	}
	if cmd == nil {
		return code
	}
	err := cmd.run(rest, stdout, stderr)
	code = 1
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

// findCommand finds the command args name, with the arguments after its
// name. Two-word commands ("tokenizer train") take precedence over
// one-word ones. The first word of two-word commands alone ("dllm
// tokenizer") lists them: with -h on stdout (status 0), else as an error
// (status 2); so does an unknown command. A nil command comes with the
// status to exit with.
func findCommand(args []string, stderr io.Writer) (*command, []string, int) {
	if len(args) >= 2 {
		if c, ok := commands[args[0]+" "+args[1]]; ok {
			return c, args[2:], 0
		}
	}
	if c, ok := commands[args[0]]; ok {
		return c, args[1:], 0
	}
	group := groupCommands(args[0])
	if len(group) == 0 {
		fmt.Fprintf(stderr, "dllm: unknown command %q (run 'dllm help' for the list)\n", args[0])
		return nil, nil, 2
	}
	w := stderr
	switch {
	case len(args) == 1:
		fmt.Fprintf(w, "dllm %s: which one? (dllm %s <command> -h for its flags)\n", args[0], args[0])
	case args[1] == "-h" || args[1] == "-help" || args[1] == "--help":
		return nil, nil, -1 // the caller prints the group on stdout
	default:
		fmt.Fprintf(w, "dllm %s: unknown command %q\n", args[0], args[1])
	}
	printGroup(w, group)
	return nil, nil, 2
}

// groupCommands lists the two-word commands whose first word is word.
func groupCommands(word string) []string {
	var out []string
	for n := range commands {
		if first, _, two := strings.Cut(n, " "); two && first == word {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func printGroup(w io.Writer, names []string) {
	fmt.Fprintln(w, "Commands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-18s %s\n", n, commands[n].summary)
	}
}

// runHelp is `dllm help [command]`: the list of commands, or a command's
// usage and flags, on stdout.
func runHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printCommands(stdout)
		return 0
	}
	if len(args) == 1 {
		if group := groupCommands(args[0]); len(group) > 0 && commands[args[0]] == nil {
			printGroup(stdout, group)
			return 0
		}
	}
	cmd, rest, code := findCommand(args, stderr)
	if cmd == nil {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "dllm help: unexpected argument %q\n", rest[0])
		return 2
	}
	if err := cmd.run([]string{"-h"}, stdout, stdout); !errors.Is(err, errHelp) {
		fmt.Fprintf(stderr, "dllm help %s: %v\n", cmd.name, err)
		return 1
	}
	return 0
}

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

func printCommands(w io.Writer) {
	fmt.Fprintln(w, "dllm: diffusion language models from the tensor up.")
	fmt.Fprintln(w, "\nUsage: dllm <command> [flags]   (dllm <command> -h or dllm help <command> for its flags;")
	fmt.Fprintln(w, "                                  dllm --version for the version)")
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
