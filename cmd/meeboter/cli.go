package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// cliEnv is what an API subcommand reads and where it prints.
type cliEnv struct {
	getenv         func(string) string
	stdout, stderr io.Writer
}

// usageError is a command line that cannot be run: run prints msg and the
// usage and exits 2, so scripts can tell bad usage from a failed call.
type usageError struct {
	msg   string
	usage string // printed after "usage: "; may span lines
}

func (e *usageError) Error() string { return e.msg }

// outputFormat is --output (-o): a table for people, the API's JSON for
// scripts.
type outputFormat string

func (o *outputFormat) String() string { return string(*o) }

func (o *outputFormat) Set(v string) error {
	if v != "table" && v != "json" {
		return errors.New("want table or json")
	}
	*o = outputFormat(v)
	return nil
}

// subcommand is one API command: its name, its arguments for the usage line
// and what it does with an unparsed command line.
type subcommand struct {
	name, args string
	run        func(ctx context.Context, cmd *command, args []string) error
}

func findSubcommand(subs []subcommand, name string) *subcommand {
	for i := range subs {
		if subs[i].name == name {
			return &subs[i]
		}
	}
	return nil
}

// commandName is how run names a failing command: "bots get", not just
// "bots", so the message says which call failed.
func commandName(args []string) string {
	if len(args) > 1 {
		switch {
		case args[0] == "bots" && findSubcommand(botsSubcommands, args[1]) != nil,
			args[0] == "jobs" && findSubcommand(jobsSubcommands, args[1]) != nil:
			return args[0] + " " + args[1]
		}
	}
	return args[0]
}

// runSubcommand runs sub, named name ("bots list", "pool"), on args.
func runSubcommand(ctx context.Context, env cliEnv, name string, sub *subcommand, args []string) error {
	return sub.run(ctx, newCommand(env, name, sub.args), args)
}

// command is one invocation of an API subcommand: its flags, including the
// --output every subcommand takes, and where it prints.
type command struct {
	name   string // "bots list"
	args   string // its arguments for the usage line
	fs     *flag.FlagSet
	output outputFormat
	env    cliEnv
}

func newCommand(env cliEnv, name, args string) *command {
	c := &command{name: name, args: args, fs: flag.NewFlagSet(name, flag.ContinueOnError), output: "table", env: env}
	// Parse errors are reported by run, once, with the usage line.
	c.fs.SetOutput(io.Discard)
	c.fs.Usage = func() {}
	c.fs.Var(&c.output, "output", "`table|json` output: aligned columns, or the API's JSON indented")
	c.fs.Var(&c.output, "o", "shorthand for --output `table|json`")
	return c
}

func (c *command) usage() string {
	return strings.Join(strings.Fields("meeboter "+c.name+" "+c.args+" [-o table|json]"), " ")
}

// parse parses the flags, which may come before or after the positional
// arguments, and wants exactly n of those.
func (c *command) parse(args []string, n int) ([]string, error) {
	pos, err := parseInterspersed(c.fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.printHelp()
		return nil, err
	case err != nil:
		return nil, &usageError{msg: err.Error(), usage: c.usage()}
	case len(pos) < n:
		return nil, &usageError{msg: "missing argument", usage: c.usage()}
	case len(pos) > n:
		return nil, &usageError{msg: fmt.Sprintf("unexpected argument %q", pos[n]), usage: c.usage()}
	}
	return pos, nil
}

func (c *command) printHelp() {
	fmt.Fprintf(c.env.stdout, "usage: %s\n\nflags:\n", c.usage())
	c.fs.SetOutput(c.env.stdout)
	c.fs.PrintDefaults()
	c.fs.SetOutput(io.Discard)
}

// parseInterspersed lets flags follow positional arguments (`bots get ID -o
// json`), which the flag package alone stops at; "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

func (c *command) client() (*apiClient, error) { return newAPIClient(c.env.getenv) }

// print writes raw (an API answer) as indented JSON, or calls table.
func (c *command) print(raw []byte, table func(w io.Writer) error) error {
	if c.output == "json" {
		return printJSON(c.env.stdout, raw)
	}
	return table(c.env.stdout)
}

// poolSubcommand is `meeboter pool`: GET /api/v1/pool.
var poolSubcommand = subcommand{name: "pool", run: func(ctx context.Context, cmd *command, args []string) error {
	return getAndPrint(ctx, cmd, args, "/api/v1/pool", writePoolTable)
}}

// platformsSubcommand is `meeboter platforms`: GET /api/v1/platforms.
var platformsSubcommand = subcommand{name: "platforms", run: func(ctx context.Context, cmd *command, args []string) error {
	return getAndPrint(ctx, cmd, args, "/api/v1/platforms", writePlatformsTable)
}}

// getAndPrint runs a command without arguments that shows one GET.
func getAndPrint(ctx context.Context, cmd *command, args []string, path string,
	table func(w io.Writer, raw []byte) error) error {
	if _, err := cmd.parse(args, 0); err != nil {
		return err
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	raw, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	return cmd.print(raw, func(w io.Writer) error { return table(w, raw) })
}
