package urlconfig

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

type zipEntry struct {
	name    string
	content string
	mode    os.FileMode
}

func buildZip(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, e.content)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestInspectZip(t *testing.T) {
	link := os.ModeSymlink | 0o777
	tests := []struct {
		name    string
		zip     []byte
		size    int64
		wantErr string // the message's suffix after AWS's text, or "" for none
	}{
		{"plain", buildZip(t, zipEntry{name: "index.js", content: "hello"}, zipEntry{name: "lib/a.js", content: "abc"}), 8, ""},
		{"empty", buildZip(t), 0, ""},
		{"executable bootstrap", buildZip(t, zipEntry{name: "bootstrap", content: "#!/bin/sh", mode: 0o755}), 9, ""},
		{"inner link", buildZip(t, zipEntry{name: "lib/current", content: "v2", mode: link}), 2, ""},
		{"link to sibling dir", buildZip(t, zipEntry{name: "lib/x", content: "../node_modules/x", mode: link}), 17, ""},
		{"dot-dot entry", buildZip(t, zipEntry{name: "a/../../x", content: "x"}), 0, ` The entry "a/../../x" escapes the function directory.`},
		{"backslash dot-dot", buildZip(t, zipEntry{name: `..\x`, content: "x"}), 0, ` The entry "..\\x" escapes the function directory.`},
		{"absolute", buildZip(t, zipEntry{name: "/x", content: "x"}), 0, ` The entry "/x" has an absolute path.`},
		{"drive letter", buildZip(t, zipEntry{name: "C:/x", content: "x"}), 0, ` The entry "C:/x" has an absolute path.`},
		{"absolute link", buildZip(t, zipEntry{name: "etc", content: "/etc", mode: link}), 0, ` The entry "etc" is a symbolic link to an absolute path.`},
		{"escaping link", buildZip(t, zipEntry{name: "a/b", content: "../../..", mode: link}), 0, ` The entry "a/b" is a symbolic link that escapes the function directory.`},
		{"link through a link", buildZip(t, zipEntry{name: "b", content: ".", mode: link}, zipEntry{name: "a", content: "b/../etc", mode: link}), 0,
			` The entry "a" is a symbolic link that escapes the function directory.`},
		{"link chain staying inside", buildZip(t, zipEntry{name: "lib/v1/x.js", content: "x"}, zipEntry{name: "lib/cur", content: "v1", mode: link},
			zipEntry{name: "x.js", content: "lib/cur/x.js", mode: link}), 1 + 2 + 12, ""},
		{"link to an absolute link", buildZip(t, zipEntry{name: "etc", content: "/etc", mode: link}, zipEntry{name: "p", content: "etc/passwd", mode: link}), 0, "-"},
		{"link loop", buildZip(t, zipEntry{name: "a", content: "b", mode: link}, zipEntry{name: "b", content: "a", mode: link}), 0,
			` The entry "a" is a symbolic link in a loop of links.`},
		{"entry under a link", buildZip(t, zipEntry{name: "out", content: "lib", mode: link}, zipEntry{name: "out/x.js", content: "x"}), 0,
			` The entry "out/x.js" lies under the symbolic link "out".`},
		{"not a zip", []byte("PK nope"), 0, "-"},
		{"file where a directory is", buildZip(t, zipEntry{name: "x/", mode: os.ModeDir | 0o755}, zipEntry{name: "x", content: "x"}), 0,
			` The entries "x/" and "x" would be extracted to the same path.`},
		{"directory where a file is", buildZip(t, zipEntry{name: "x", content: "x"}, zipEntry{name: "x/"}), 0,
			` The entries "x" and "x/" would be extracted to the same path.`},
		{"entry under a file", buildZip(t, zipEntry{name: "x", content: "x"}, zipEntry{name: "x/y", content: "y"}), 0,
			` The entry "x/y" lies under the file "x".`},
		{"file over an implicit directory", buildZip(t, zipEntry{name: "x/y/z", content: "z"}, zipEntry{name: "x/y", content: "y"}), 0,
			` The entry "x/y/z" lies under the file "x/y".`},
		{"link where a directory is", buildZip(t, zipEntry{name: "lib/", mode: os.ModeDir | 0o755}, zipEntry{name: "lib", content: "x", mode: link}), 0,
			` The entries "lib/" and "lib" would be extracted to the same path.`},
		{"file twice", buildZip(t, zipEntry{name: "a.js", content: "1"}, zipEntry{name: "a.js", content: "2"}), 0, ` The entry "a.js" appears twice.`},
		{"file twice, spelled differently", buildZip(t, zipEntry{name: "lib/a.js", content: "1"}, zipEntry{name: "lib/./a.js", content: "2"}), 0,
			` The entries "lib/a.js" and "lib/./a.js" would be extracted to the same path.`},
		{"link twice", buildZip(t, zipEntry{name: "l", content: "a", mode: link}, zipEntry{name: "l", content: "b", mode: link}), 0, ` The entry "l" appears twice.`},
		{"directory twice", buildZip(t, zipEntry{name: "d/"}, zipEntry{name: "d/"}, zipEntry{name: "d/f", content: "f"}), 1, ""},
		{"directory made by a file, then named", buildZip(t, zipEntry{name: "d/f", content: "f"}, zipEntry{name: "d/"}), 1, ""},
		{"function directory named", buildZip(t, zipEntry{name: "./"}, zipEntry{name: "f", content: "f"}), 1, ""},
		{"NUL in a name", buildZip(t, zipEntry{name: "a\x00b", content: "x"}), 0, ` The entry "a\x00b" has a NUL byte in its name.`},
		{"name component over NAME_MAX", buildZip(t, zipEntry{name: "d/" + strings.Repeat("n", 256), content: "x"}), 0,
			` The entry "d/` + strings.Repeat("n", 256) + `" has a name component longer than 255 bytes.`},
		{"name component at NAME_MAX", buildZip(t, zipEntry{name: strings.Repeat("n", 255), content: "x"}), 1, ""},
		{"link with an empty target", buildZip(t, zipEntry{name: "l", mode: link}), 0, ` The entry "l" is a symbolic link with an empty target.`},
		{"link with NUL in its target", buildZip(t, zipEntry{name: "l", content: "a\x00", mode: link}), 0, ` The entry "l" is a symbolic link whose target holds a NUL byte.`},
		{"link with an overlong target", buildZip(t, zipEntry{name: "l", content: strings.Repeat("a/", 3000), mode: link}), 0,
			` The entry "l" is a symbolic link with an overlong target.`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			size, err := inspectZip(bytes.NewReader(tc.zip), int64(len(tc.zip)))
			if tc.wantErr == "" {
				if err != nil || size != tc.size {
					t.Fatalf("got %d, %v; want %d, nil", size, err, tc.size)
				}
				return
			}
			e, ok := AsError(err)
			if !ok || e.Type != ErrInvalidParameter || !strings.HasPrefix(e.Message, unzipFailed) {
				t.Fatalf("got %v, want InvalidParameterValueException %q...", err, unzipFailed)
			}
			if tc.wantErr != "-" && e.Message != unzipFailed+tc.wantErr {
				t.Fatalf("message %q\n want %q", e.Message, unzipFailed+tc.wantErr)
			}
		})
	}
}

func TestInspectZipRefusesCorruptContent(t *testing.T) {
	z := buildZip(t, zipEntry{name: "a.txt", content: strings.Repeat("lambda ", 100)})
	// Flip a byte inside the compressed data: the CRC check must catch it.
	z[45] ^= 0x55
	_, err := inspectZip(bytes.NewReader(z), int64(len(z)))
	if e, ok := AsError(err); !ok || e.Message != unzipFailed {
		t.Fatalf("corrupt entry: %v", err)
	}
}

func FuzzInspectZip(f *testing.F) {
	f.Add(buildZip(f, zipEntry{name: "index.js", content: "x"}))
	f.Add(buildZip(f, zipEntry{name: "l", content: "../x", mode: os.ModeSymlink | 0o777}))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, b []byte) {
		size, err := inspectZip(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			e, ok := AsError(err)
			if !ok || e.Type != ErrInvalidParameter {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if size < 0 || size > MaxUnzippedCodeSize {
			t.Fatalf("size %d", size)
		}
	})
}
