package deploy

import (
	"strings"
	"testing"
)

func TestIgnoreMatch(t *testing.T) {
	ig, err := ParseIgnore(strings.NewReader(`# comment
*.log
!keep.log
build/
/secret.txt
docs/*.md

`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path  string
		isDir bool
		want  bool
	}{
		{"app.log", false, true},
		{"sub/deep/app.log", false, true},
		{"keep.log", false, false},
		{"sub/keep.log", false, false},
		{"build", true, true},
		{"sub/build", true, true},
		{"build", false, false}, // dir/ matches directories only
		{"secret.txt", false, true},
		{"sub/secret.txt", false, false}, // anchored at the root
		{"docs/a.md", false, true},
		{"docs/sub/a.md", false, false}, // * does not cross a slash
		{"x/docs/a.md", false, false},
		{"index.js", false, false},
		{"# comment", false, false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if got := ig.Match(tc.path, tc.isDir); got != tc.want {
				t.Errorf("Match(%q, dir %v) = %v, want %v", tc.path, tc.isDir, got, tc.want)
			}
		})
	}
	var none *Ignore
	if none.Match("anything", false) {
		t.Error("a nil Ignore excluded a path")
	}
}

func TestIgnoreBadPattern(t *testing.T) {
	_, err := ParseIgnore(strings.NewReader("ok\n[unclosed\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("want an error naming line 2, got %v", err)
	}
}
