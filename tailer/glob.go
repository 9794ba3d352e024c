package tailer

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// maxTold bounds what a globber remembers having logged; past it the memory
// starts afresh (at worst one repeated line per glob or directory).
const maxTold = 4096

// globber expands the --path globs as filepath.Glob does and says, once,
// what filepath.Glob keeps quiet about: a glob that matches no file, and a
// directory that cannot be read (with the error), so an operator with a
// typo or a permission problem is not left with a silent agent. It is used
// by the Run goroutine only.
type globber struct {
	log  *slog.Logger
	told map[string]bool // globs and directories already logged
}

func newGlobber(log *slog.Logger) *globber {
	return &globber{log: log, told: map[string]bool{}}
}

// expand returns the paths matching pattern, sorted per directory.
func (g *globber) expand(pattern string) []string {
	paths := g.glob(pattern)
	if len(paths) == 0 && g.first("glob:"+pattern) {
		g.log.Warn("no file matches --path glob yet; it is checked every poll and files that appear are followed", "glob", pattern)
	}
	return paths
}

// glob is filepath.Glob reporting the directories it cannot read.
func (g *globber) glob(pattern string) []string {
	if !hasMeta(pattern) {
		if _, err := os.Lstat(pattern); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				g.cannotRead(pattern, err)
			}
			return nil
		}
		return []string{pattern}
	}
	dir, file := filepath.Split(pattern)
	dir = cleanGlobPath(dir)
	if !hasMeta(dir) {
		return g.globIn(dir, file, true, nil)
	}
	var out []string
	for _, d := range g.glob(dir) {
		out = g.globIn(d, file, false, out)
	}
	return out
}

// globIn appends the names in dir matching pattern to out. A directory the
// glob named outright (static) is reported even when it does not exist; one
// found by a wildcard may just have been removed (a pod that ended).
func (g *globber) globIn(dir, pattern string, static bool, out []string) []string {
	fi, err := os.Stat(dir)
	if err != nil {
		if static || !errors.Is(err, fs.ErrNotExist) {
			g.cannotRead(dir, err)
		}
		return out
	}
	if !fi.IsDir() {
		return out
	}
	d, err := os.Open(dir)
	if err != nil {
		g.cannotRead(dir, err)
		return out
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		g.cannotRead(dir, err)
	}
	slices.Sort(names)
	for _, n := range names {
		if ok, _ := filepath.Match(pattern, n); ok {
			out = append(out, filepath.Join(dir, n))
		}
	}
	return out
}

func (g *globber) cannotRead(dir string, err error) {
	if g.first("dir:" + dir) {
		g.log.Warn("cannot read a directory the --path globs lead through; files in it are not followed until it can be read",
			"dir", dir, "err", err)
	}
}

// first reports whether key is logged for the first time.
func (g *globber) first(key string) bool {
	if g.told[key] {
		return false
	}
	if len(g.told) >= maxTold {
		clear(g.told)
	}
	g.told[key] = true
	return true
}

func hasMeta(path string) bool { return strings.ContainsAny(path, `*?[\`) }

// cleanGlobPath prepares a directory taken from a glob, as filepath.Glob does.
func cleanGlobPath(path string) string {
	switch path {
	case "":
		return "."
	case string(filepath.Separator):
		return path
	}
	return path[:len(path)-1] // chop off the trailing separator
}
