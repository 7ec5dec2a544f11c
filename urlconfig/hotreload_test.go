package urlconfig

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func hotIn(name, dir string) *CreateFunctionInput {
	in := createIn(name, nil)
	in.Code = &FunctionCode{S3Bucket: str(HotReloadBucket), S3Key: str(dir)}
	return in
}

// A hot-reload function stores its folder, survives a restart, resolves
// to the folder, and becomes a zip function again when given a zip.
func TestHotReloadFunction(t *testing.T) {
	ctx := context.Background()
	dataDir, code := t.TempDir(), t.TempDir()
	s := openTestStore(t, dataDir)
	out, err := s.CreateFunction(ctx, hotIn("hot", code))
	if err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	if out.CodeSha256 != HotReloadCodeSha256 || out.CodeSize != 0 {
		t.Errorf("CodeSha256, CodeSize = %q, %d; want %q, 0", out.CodeSha256, out.CodeSize, HotReloadCodeSha256)
	}
	if got := codeFiles(t, s); len(got) != 0 {
		t.Errorf("code store holds %v for a folder", got)
	}
	s.Close()

	s = openTestStore(t, dataDir)
	v, err := s.ResolveVersion(ctx, "hot", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.CodeDir != code || v.CodeHash != "" || v.CodePath != "" {
		t.Errorf("resolved CodeDir, CodeHash, CodePath = %q, %q, %q; want %q, \"\", \"\"", v.CodeDir, v.CodeHash, v.CodePath, code)
	}
	got, hash, err := s.GetFunction(ctx, "hot", nil)
	if err != nil {
		t.Fatal(err)
	}
	if hash != "" || got.Code.Location != "file://"+code {
		t.Errorf("GetFunction hash %q, Location %q; want \"\", file://%s", hash, got.Code.Location, code)
	}

	// Another folder changes the fingerprint; a zip ends hot reload.
	other := t.TempDir()
	if _, err := s.UpdateFunctionCode(ctx, &UpdateFunctionCodeInput{FunctionName: "hot", S3Bucket: str(HotReloadBucket), S3Key: str(other)}); err != nil {
		t.Fatalf("UpdateFunctionCode to a folder: %v", err)
	}
	v2, _ := s.ResolveVersion(ctx, "hot", nil)
	if v2.CodeDir != other || v2.Fingerprint == v.Fingerprint {
		t.Errorf("after update: CodeDir %q (want %q), fingerprint changed: %v", v2.CodeDir, other, v2.Fingerprint != v.Fingerprint)
	}
	zip := buildZip(t, zipEntry{name: "bootstrap", content: "#!/bin/sh", mode: 0o755})
	zout, err := s.UpdateFunctionCode(ctx, &UpdateFunctionCodeInput{FunctionName: "hot", ZipFile: zip})
	if err != nil {
		t.Fatalf("UpdateFunctionCode to a zip: %v", err)
	}
	v3, _ := s.ResolveVersion(ctx, "hot", nil)
	if v3.CodeDir != "" || v3.CodeHash == "" || zout.CodeSha256 != codeSha(zip) {
		t.Errorf("after zip: CodeDir %q, CodeHash %q, CodeSha256 %q", v3.CodeDir, v3.CodeHash, zout.CodeSha256)
	}
}

// Paths that are not an absolute, existing folder are refused with
// InvalidParameterValueException, and nothing is stored.
func TestHotReloadRefusesBadPaths(t *testing.T) {
	ctx := context.Background()
	code := t.TempDir()
	file := filepath.Join(code, "index.js")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	s := openTestStore(t, dataDir)
	if _, err := s.CreateFunction(ctx, hotIn("kept", code)); err != nil {
		t.Fatal(err)
	}
	before, _ := s.ResolveVersion(ctx, "kept", nil)
	links := t.TempDir()
	rootLink, etcLink := filepath.Join(links, "root"), filepath.Join(links, "etc")
	if err := os.Symlink("/", rootLink); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", etcLink); err != nil {
		t.Fatal(err)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, key, want string
	}{
		{"relative", "some/dir", "must be an absolute path"},
		{"missing", filepath.Join(code, "nope"), "no such folder"},
		{"file", file, "is a file, not a folder"},
		{"root", "/", "is the file system's root"},
		{"link-root", rootLink, "is the file system's root"},
		{"system", "/etc", "in the system folder /etc"},
		{"link-etc", etcLink, "in the system folder /etc"},
		{"in-proc", "/proc/self", "in the system folder /proc"},
		{"holds-var-run", "/var", "holds the system folder /var/run"},
		{"run", "/run", "in the system folder /run"},
		{"data-dir", dataDir, "furl's data directory"},
		{"in-data-dir", filepath.Join(dataDir, "code"), "furl's data directory"},
		{"home", home, "the home folder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateFunction(ctx, hotIn("new-"+tc.name, tc.key))
			if e, ok := AsError(err); !ok || e.Type != ErrInvalidParameter || !strings.Contains(e.Message, tc.want) {
				t.Errorf("CreateFunction: %v; want %s containing %q", err, ErrInvalidParameter, tc.want)
			}
			if _, err := s.ResolveVersion(ctx, "new-"+tc.name, nil); err == nil {
				t.Errorf("a refused create stored the function")
			}
			_, err = s.UpdateFunctionCode(ctx, &UpdateFunctionCodeInput{FunctionName: "kept", S3Bucket: str(HotReloadBucket), S3Key: str(tc.key)})
			if e, ok := AsError(err); !ok || e.Type != ErrInvalidParameter || !strings.Contains(e.Message, tc.want) {
				t.Errorf("UpdateFunctionCode: %v; want %s containing %q", err, ErrInvalidParameter, tc.want)
			}
			after, _ := s.ResolveVersion(ctx, "kept", nil)
			if after.CodeDir != code || after.Fingerprint != before.Fingerprint {
				t.Errorf("a refused update changed the function: CodeDir %q", after.CodeDir)
			}
		})
	}
}

// A folder named through a link is stored as the folder itself: the
// fingerprint walks what the link names, and its saves are seen.
func TestHotReloadResolvesLinks(t *testing.T) {
	ctx := context.Background()
	code := t.TempDir()
	link := filepath.Join(t.TempDir(), "project")
	if err := os.Symlink(code, link); err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t, t.TempDir())
	if _, err := s.CreateFunction(ctx, hotIn("linked", link)); err != nil {
		t.Fatal(err)
	}
	v, err := s.ResolveVersion(ctx, "linked", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.CodeDir != code {
		t.Errorf("CodeDir %q, want the folder the link names, %q", v.CodeDir, code)
	}
}
