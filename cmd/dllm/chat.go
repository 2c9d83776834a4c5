package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/dllmgo/dllm/data"
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
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for {
		fmt.Fprint(stdout, "\nyou> ")
		if !in.Scan() {
			fmt.Fprintln(stdout)
			return in.Err()
		}
		line := strings.TrimSpace(in.Text())
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
		c.Trace = view.trace
		sf.editTrace = view.edits
		out, err := sf.sample(b, [][]int32{prompt}, c)
		view.done()
		if err != nil {
			return err
		}
		answer := b.Answer(out.Samples[0].Answer)
		fmt.Fprintf(stdout, "bot> %s\n", answer)
		history = append(history, data.Message{Role: "assistant", Content: answer})
	}
}
