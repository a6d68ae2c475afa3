package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// invalidFlagValue matches pflag's message for a value that does not
// parse as the flag's type.
var invalidFlagValue = regexp.MustCompile(`^invalid argument "(.*)" for "(.*)" flag: `)

// flagError rewrites cobra's and pflag's flag errors in dream's form, one
// line that names the flag and what is allowed:
//
//	--steps "x" is not valid (allowed: an integer)
//	unknown flag: --stepz (allowed: --config, --dynamics, …)
func flagError(c *cobra.Command, err error) error {
	msg := err.Error()
	if m := invalidFlagValue.FindStringSubmatch(msg); m != nil {
		name := m[2][strings.LastIndex(m[2], " ")+1:]
		if f := c.Flags().Lookup(strings.TrimLeft(name, "-")); f != nil {
			return fmt.Errorf("%s %q is not valid (allowed: %s)", name, m[1], allowedByType(f))
		}
		return err
	}
	if strings.HasPrefix(msg, "unknown flag") || strings.HasPrefix(msg, "unknown shorthand flag") {
		var names []string
		c.Flags().VisitAll(func(f *pflag.Flag) { names = append(names, "--"+f.Name) })
		return fmt.Errorf("%s (allowed: %s)", msg, strings.Join(names, ", "))
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		if f := c.Flags().Lookup(strings.TrimLeft(name, "-")); f != nil {
			return fmt.Errorf("%s (allowed: --%s followed by %s)", msg, f.Name, allowedByType(f))
		}
	}
	return err
}

// allowedByType says which values a flag of f's type takes.
func allowedByType(f *pflag.Flag) string {
	switch f.Value.Type() {
	case "int":
		return "an integer"
	case "uint64":
		return "an integer from 0 to 18446744073709551615"
	case "float64":
		return "a number"
	case "duration":
		return "a duration such as 30s or 2m"
	case "bool":
		return "true or false"
	}
	return "a " + f.Value.Type()
}

// runDirFlag checks the --run-dir of a command that reads a run.
func runDirFlag(dir string) error {
	const allowed = "allowed: the directory of a run started by dream train"
	if dir == "" {
		return fmt.Errorf("--run-dir is required (%s)", allowed)
	}
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("--run-dir: run directory %s: no such directory (%s)", dir, allowed)
	case err != nil:
		return fmt.Errorf("--run-dir: run directory %s: %v", dir, err)
	case !info.IsDir():
		return fmt.Errorf("--run-dir: run directory %s: not a directory (%s)", dir, allowed)
	}
	return nil
}

// mergeDirs checks the directories given to compare --merge.
func mergeDirs(dirs []string) error {
	for _, d := range dirs {
		info, err := os.Stat(d)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("--merge %s: no such directory (allowed: directories written by dream compare or dream train)", d)
		case err != nil:
			return fmt.Errorf("--merge %s: %v", d, err)
		case !info.IsDir():
			return fmt.Errorf("--merge %s: not a directory (allowed: directories written by dream compare or dream train)", d)
		}
	}
	return nil
}
