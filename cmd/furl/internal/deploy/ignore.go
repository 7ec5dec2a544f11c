package deploy

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strings"
)

// Ignore is a .furlignore: gitignore-style lines, matched with path.Match
// semantics. A blank line or one starting with "#" is skipped; "!pattern"
// re-includes what an earlier line excluded; "pattern/" matches only
// directories; a pattern with a slash other than a trailing one is
// anchored at the folder's root (a leading slash only anchors it), and one
// without matches a name at any depth. The last matching line wins, and
// an excluded directory excludes everything beneath it, as in git. "**" is
// not special: path.Match reads it as "*".
// The zero value ignores nothing.
type Ignore struct {
	rules []ignoreRule
}

type ignoreRule struct {
	pattern  string
	negate   bool
	dirOnly  bool
	anchored bool
}

// ParseIgnore reads .furlignore lines from r. It fails on a pattern that
// path.Match cannot read, naming its line, so a typo does not silently
// ship what it meant to keep out.
func ParseIgnore(r io.Reader) (*Ignore, error) {
	var ig Ignore
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var rule ignoreRule
		if p, ok := strings.CutPrefix(line, "!"); ok {
			rule.negate, line = true, p
		}
		if p, ok := strings.CutSuffix(line, "/"); ok {
			rule.dirOnly, line = true, p
		}
		if strings.Contains(line, "/") {
			rule.anchored = true
			line = strings.TrimPrefix(line, "/")
		}
		if line == "" {
			continue
		}
		if _, err := path.Match(line, ""); err != nil {
			return nil, fmt.Errorf(".furlignore line %d: %q: %w", n, sc.Text(), err)
		}
		rule.pattern = line
		ig.rules = append(ig.rules, rule)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read .furlignore: %w", err)
	}
	return &ig, nil
}

// Match reports whether rel, a slash-separated path relative to the
// folder, is excluded by the rules. The caller walks top-down and skips
// an excluded directory's contents, so Match looks at rel alone.
func (ig *Ignore) Match(rel string, isDir bool) bool {
	if ig == nil {
		return false
	}
	excluded := false
	for _, r := range ig.rules {
		if r.dirOnly && !isDir {
			continue
		}
		subject := rel
		if !r.anchored {
			subject = path.Base(rel)
		}
		// The pattern was checked when parsed, so Match cannot fail here.
		if ok, _ := path.Match(r.pattern, subject); ok {
			excluded = !r.negate
		}
	}
	return excluded
}
