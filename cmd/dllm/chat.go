package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/editflow"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/modeldir"
)

// dllm chat is a multi-turn conversation in the terminal, each answer
// denoised live in front of the reader.
func init() {
	register(&command{
		name:    "chat",
		summary: "talk to a chat model; watch each answer being denoised",
		run:     func(args []string, stdout, stderr io.Writer) error { return runChat(args, os.Stdin, stdout, stderr) },
	})
}

const chatHelp = `commands: /reset (new chat)  /exit  /steps N  /temp T  /visualize on|off  /help`

func runChat(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("chat", stderr)
	modelDir := fs.String("model", "", "model folder (required)")
	system := fs.String("system", "", "optional system message")
	visualize := fs.Bool("visualize", true, "show each answer being denoised")
	device := fs.String("device", "cpu", "device: cpu or cuda")
	var sf samplerFlags
	sf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := sf.validate(); err != nil {
		return err
	}
	sf.noteSet(fs)
	if *modelDir == "" {
		return badInput("--model is required")
	}
	b, c, err := sf.openModel(*modelDir, *device, stderr)
	if err != nil {
		return err
	}
	var history []data.Message
	reset := func() {
		history = history[:0]
		if *system != "" {
			history = append(history, data.Message{Role: "system", Content: *system})
		}
	}
	reset()
	fmt.Fprintf(stdout, "dllm chat: %s. %s\n", describeModel(b.Model), chatHelp)
	interrupts, catch := chatInterrupts()
	catch(true)
	defer catch(false)
	lines, readErr := readLines(stdin)
	for {
		fmt.Fprint(stdout, "\nyou> ")
		var line string
		select {
		case l, ok := <-lines:
			if !ok {
				fmt.Fprintln(stdout)
				return *readErr
			}
			line = strings.TrimSpace(l)
		case <-interrupts: // Ctrl-C at the prompt quits
			fmt.Fprintln(stdout)
			return nil
		}
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "/") {
			cmd, arg, _ := strings.Cut(line, " ")
			arg = strings.TrimSpace(arg)
			switch cmd {
			case "/exit", "/quit":
				return nil
			case "/reset":
				reset()
				fmt.Fprintln(stdout, "(new chat)")
			case "/steps":
				n, err := strconv.Atoi(arg)
				if err != nil || n <= 0 {
					fmt.Fprintln(stdout, "usage: /steps N (a positive number)")
					continue
				}
				c.Steps = n
				fmt.Fprintf(stdout, "(steps %d)\n", n)
			case "/temp":
				t, err := strconv.ParseFloat(arg, 64)
				if err != nil || t < 0 {
					fmt.Fprintln(stdout, "usage: /temp T (0 or more)")
					continue
				}
				c.Temperature = t
				fmt.Fprintf(stdout, "(temperature %g)\n", t)
			case "/visualize":
				*visualize = arg != "off"
			case "/help":
				fmt.Fprintln(stdout, chatHelp)
			default:
				fmt.Fprintf(stdout, "unknown command %s; %s\n", cmd, chatHelp)
			}
			continue
		}
		history = append(history, data.Message{Role: "user", Content: line})
		prompt, err := b.Prompt(history)
		if err == nil && !fitsModel(b.Model, len(prompt)+c.MaxNewTokens) {
			err = fmt.Errorf("the conversation (%d tokens) no longer fits the model's %d; /reset to start over",
				len(prompt), b.MaxPositions())
		}
		if err != nil {
			history = history[:len(history)-1]
			fmt.Fprintf(stdout, "(%v)\n", err)
			continue
		}
		view := newLiveView(b, stdout, *visualize)
		out, err := sampleInterruptibly(&sf, b, prompt, c, view, interrupts, catch)
		if errors.Is(err, errInterrupted) {
			history = history[:len(history)-1]
			fmt.Fprintln(stdout, "(interrupted; Ctrl-C again at the prompt, /exit or end of input quits)")
			continue
		}
		if err != nil {
			return err
		}
		answer := b.Answer(out.Samples[0].Answer)
		fmt.Fprintf(stdout, "bot> %s\n", answer)
		history = append(history, data.Message{Role: "assistant", Content: answer})
	}
}

// chatInterrupts gives chat its Ctrl-C: a channel of interrupts, and a
// switch that catches them (on) or restores the default, which ends the
// process (off). Tests replace it.
var chatInterrupts = func() (<-chan os.Signal, func(on bool)) {
	ch := make(chan os.Signal, 1)
	return ch, func(on bool) {
		if on {
			signal.Notify(ch, os.Interrupt)
		} else {
			signal.Stop(ch)
		}
	}
}

// chatStepHook, when set (by a test), runs at every frame of an answer.
var chatStepHook func()

// readLines reads stdin line by line on a goroutine, so that the prompt can
// wait for a line and a Ctrl-C at once. The channel closes at the end of
// the input; the error is then in *err.
func readLines(r io.Reader) (<-chan string, *error) {
	lines := make(chan string)
	var err error
	go func() {
		defer close(lines)
		in := bufio.NewScanner(r)
		in.Buffer(make([]byte, 1<<20), 1<<20)
		for in.Scan() {
			lines <- in.Text()
		}
		err = in.Err()
	}()
	return lines, &err
}

// errInterrupted is an answer stopped by Ctrl-C.
var errInterrupted = errors.New("interrupted")

// interruptedPanic is what the trace panics with to leave a sampler at the
// next step: the samplers have no way to be cancelled, but each calls its
// trace after every step, on its own goroutine, and releases what it holds
// in deferred calls.
type interruptedPanic struct{}

// sampleInterruptibly samples one answer; a Ctrl-C stops it at the next
// step with errInterrupted. After the first Ctrl-C the default action is
// back, so a second one ends the program even if a step takes long; the
// catching resumes for the next answer.
func sampleInterruptibly(sf *samplerFlags, b *modeldir.Bundle, prompt []int32, c mdlm.SamplerConfig, view *liveView,
	interrupts <-chan os.Signal, catch func(bool)) (out *mdlm.Output, err error) {
	var stop atomic.Bool
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-interrupts:
			stop.Store(true)
			catch(false)
		case <-done:
		}
	}()
	defer func() {
		close(done)
		<-exited // the watcher has switched the catching off, or never will
		view.done()
		if r := recover(); r != nil {
			if _, ok := r.(interruptedPanic); !ok {
				panic(r)
			}
			out, err = nil, errInterrupted
		}
		if stop.Load() {
			catch(true)
		}
	}()
	c.Trace = func(f mdlm.Frame) {
		if chatStepHook != nil {
			chatStepHook()
		}
		if stop.Load() {
			panic(interruptedPanic{})
		}
		if view.trace != nil {
			view.trace(f)
		}
	}
	sf.editTrace = func(s editflow.Step) {
		if stop.Load() {
			panic(interruptedPanic{})
		}
		if view.edits != nil {
			view.edits(s)
		}
	}
	return sf.sample(b, [][]int32{prompt}, c)
}
