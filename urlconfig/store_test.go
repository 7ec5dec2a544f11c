package urlconfig

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func openTestStore(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{Dir: dir, Account: testAccount})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func str(s string) *string { return &s }

func createIn(name string, zip []byte) *CreateFunctionInput {
	return &CreateFunctionInput{
		FunctionName: str(name), Runtime: str("provided.al2023"), Handler: str("bootstrap"),
		Role: str("arn:aws:iam::123456789012:role/r"), Code: &FunctionCode{ZipFile: zip},
	}
}

// codeFiles lists the files of the code store.
func codeFiles(t testing.TB, s *Store) []string {
	t.Helper()
	return dirNames(t, s.code.dir)
}

// dirNames lists a directory's names, sorted.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// Code files live exactly as long as some version references them.
func TestCodeFilesFollowReferences(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	zipA := buildZip(t, zipEntry{name: "bootstrap", content: "A", mode: 0o755})
	zipB := buildZip(t, zipEntry{name: "bootstrap", content: "B", mode: 0o755})
	if _, err := s.CreateFunction(ctx, createIn("one", zipA)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateFunction(ctx, createIn("two", zipA)); err != nil {
		t.Fatal(err)
	}
	if got := codeFiles(t, s); len(got) != 1 {
		t.Fatalf("same code twice gave files %v", got)
	}
	if _, err := s.PublishVersion(ctx, &PublishVersionInput{FunctionName: "one"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateFunctionCode(ctx, &UpdateFunctionCodeInput{FunctionName: "one", ZipFile: zipB}); err != nil {
		t.Fatal(err)
	}
	if got := codeFiles(t, s); len(got) != 2 {
		t.Fatalf("after an update, files %v; want A (version 1, two) and B ($LATEST)", got)
	}
	if _, err := s.DeleteFunction(ctx, "two", nil); err != nil {
		t.Fatal(err)
	}
	if got := codeFiles(t, s); len(got) != 2 {
		t.Fatalf("A is still version 1 of one, yet files are %v", got)
	}
	if _, err := s.DeleteFunction(ctx, "one", str("1")); err != nil {
		t.Fatal(err)
	}
	if got := codeFiles(t, s); len(got) != 1 {
		t.Fatalf("A is referenced by nothing, yet files are %v", got)
	}
	if _, err := s.DeleteFunction(ctx, "one", nil); err != nil {
		t.Fatal(err)
	}
	if got := codeFiles(t, s); len(got) != 0 {
		t.Fatalf("no function left, yet files are %v", got)
	}
}

// A failed create leaves neither a record nor a file.
func TestFailedCreateLeavesNothing(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	zipA := buildZip(t, zipEntry{name: "bootstrap", content: "A"})
	if _, err := s.CreateFunction(ctx, createIn("one", zipA)); err != nil {
		t.Fatal(err)
	}
	before := codeFiles(t, s)
	_, err := s.CreateFunction(ctx, createIn("one", buildZip(t, zipEntry{name: "bootstrap", content: "other"})))
	if e, ok := AsError(err); !ok || e.Type != ErrConflict {
		t.Fatalf("second create: %v", err)
	}
	if after := codeFiles(t, s); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("files %v after a refused create, want %v", after, before)
	}
}

// Opening sweeps what a crash left: staged uploads and unreferenced zips.
func TestOpenSweepsLeftovers(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	if _, err := s.CreateFunction(context.Background(), createIn("keep", buildZip(t, zipEntry{name: "bootstrap", content: "k"}))); err != nil {
		t.Fatal(err)
	}
	kept := codeFiles(t, s)
	s.Close()
	for _, name := range []string{"upload-123.tmp", strings.Repeat("ab", 32) + ".zip"} {
		if err := os.WriteFile(filepath.Join(dir, "code", name), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s = openTestStore(t, dir)
	if got := codeFiles(t, s); strings.Join(got, ",") != strings.Join(kept, ",") {
		t.Fatalf("after reopening, files %v, want %v", got, kept)
	}
}

// It runs in a synctest bubble: the lock's timeout passes on the bubble's
// clock, at once.
func TestSecondStoreOnADirectoryIsRefused(t *testing.T) {
	synctest.Test(t, testSecondStoreOnADirectoryIsRefused)
}

func testSecondStoreOnADirectoryIsRefused(t *testing.T) {
	dir := t.TempDir()
	openTestStore(t, dir)
	start := time.Now()
	_, err := Open(context.Background(), Options{Dir: dir, Account: testAccount})
	if err == nil || !strings.Contains(err.Error(), "is another furl using this data directory?") {
		t.Fatalf("second Open: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("second Open waited %s, past its lock timeout of 1s", took)
	}
}

func TestPublishOnlyWhenSomethingChanged(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	if _, err := s.CreateFunction(ctx, createIn("f", buildZip(t, zipEntry{name: "bootstrap", content: "1"}))); err != nil {
		t.Fatal(err)
	}
	v1, err := s.PublishVersion(ctx, &PublishVersionInput{FunctionName: "f"})
	if err != nil {
		t.Fatal(err)
	}
	same, err := s.PublishVersion(ctx, &PublishVersionInput{FunctionName: "f", Description: str("new text")})
	if err != nil {
		t.Fatal(err)
	}
	if same.Version != "1" || same.RevisionId != v1.RevisionId {
		t.Fatalf("unchanged function published version %s", same.Version)
	}
	if _, err := s.UpdateFunctionConfiguration(ctx, &UpdateFunctionConfigurationInput{FunctionName: "f", Timeout: ptr(10)}); err != nil {
		t.Fatal(err)
	}
	v2, err := s.PublishVersion(ctx, &PublishVersionInput{FunctionName: "f"})
	if err != nil {
		t.Fatal(err)
	}
	if v2.Version != "2" || v2.Timeout != 10 {
		t.Fatalf("a configuration change published %+v", v2)
	}
	// Versions are snapshots: changing $LATEST leaves them be.
	if _, err := s.UpdateFunctionConfiguration(ctx, &UpdateFunctionConfigurationInput{FunctionName: "f",
		Environment: &Environment{Variables: map[string]string{"KEY": "v"}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetFunctionConfiguration(ctx, "f", str("2"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Environment != nil || got.Timeout != 10 {
		t.Fatalf("version 2 changed with $LATEST: %+v", got)
	}
}

func TestConcurrencyFloorForSmallAccounts(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Dir: t.TempDir(), Account: testAccount, AccountConcurrency: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateFunction(ctx, createIn("f", buildZip(t, zipEntry{name: "bootstrap", content: "1"}))); err != nil {
		t.Fatal(err)
	}
	_, err = s.PutFunctionConcurrency(ctx, &PutFunctionConcurrencyInput{FunctionName: "f", ReservedConcurrentExecutions: ptr(1)})
	if e, ok := AsError(err); !ok || !strings.HasSuffix(e.Message, "below its minimum value of [10].") || !e.NoUserType {
		t.Fatalf("reserving in a 10-execution account: %v", err)
	}
	if _, err := s.PutFunctionConcurrency(ctx, &PutFunctionConcurrencyInput{FunctionName: "f", ReservedConcurrentExecutions: ptr(0)}); err != nil {
		t.Fatalf("reserving 0: %v", err)
	}
}

func TestValidationMessages(t *testing.T) {
	var v violations
	v.required("role")
	v.str("handler", "has space", 0, 128, &patHandler)
	v.intRange("memorySize", ptr(64), 128, 10240)
	v.enum("packageType", str("Jar"), packageTypes)
	v.list("cors.allowOrigins", []string{""}, 100, 1, 253)
	want := "5 validation errors detected: " +
		"Value null at 'role' failed to satisfy constraint: Member must not be null; " +
		"Value 'has space' at 'handler' failed to satisfy constraint: Member must satisfy regular expression pattern: [^\\s]+; " +
		"Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128; " +
		"Value 'Jar' at 'packageType' failed to satisfy constraint: Member must satisfy enum value set: [Zip, Image]; " +
		"Value '[]' at 'cors.allowOrigins' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 253, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: .*, Member must not be null]"
	e, ok := AsError(v.err())
	if !ok || e.Type != ErrValidation || e.Message != want {
		t.Fatalf("got %v\nwant %s", v.err(), want)
	}
}

// Settings no runtime can start with are refused with the member named,
// and nothing changes.
func TestUnrunnableSettingsAreRefused(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	zip := buildZip(t, zipEntry{name: "bootstrap", content: "#!/bin/sh", mode: 0o755})
	if _, err := s.CreateFunction(ctx, createIn("f", zip)); err != nil {
		t.Fatal(err)
	}
	before, err := s.GetFunctionConfiguration(ctx, "f", nil)
	if err != nil {
		t.Fatal(err)
	}
	files := codeFiles(t, s)
	const handlerMsg = `The handler must not contain a NUL character (\u0000): no runtime can be started with it.`
	envMsg := func(keys string) string {
		return `Lambda was unable to configure your environment variables because the values of these variables contain a NUL character (\u0000), which no process environment can hold: ` + keys
	}
	env := func(vars map[string]string) *Environment { return &Environment{Variables: vars} }
	tests := []struct {
		name    string
		handler *string
		env     *Environment
		want    string // "" for accepted
	}{
		{"NUL in the handler", str("index\x00.handler"), nil, handlerMsg},
		{"NUL in a variable", nil, env(map[string]string{"OK": "fine", "BAD": "x\x00y"}), envMsg("BAD")},
		{"NUL in two variables", nil, env(map[string]string{"Z1": "\x00", "A1": "a\x00"}), envMsg("A1, Z1")},
		{"control characters other than NUL", str("bootstrap"), env(map[string]string{"TABS": "a\tb\nc\x01"}), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := createIn("g", zip)
			if tc.handler != nil {
				in.Handler = tc.handler
			}
			in.Environment = tc.env
			_, createErr := s.CreateFunction(ctx, in)
			_, updateErr := s.UpdateFunctionConfiguration(ctx, &UpdateFunctionConfigurationInput{FunctionName: "f", Handler: tc.handler, Environment: tc.env})
			for op, err := range map[string]error{"CreateFunction": createErr, "UpdateFunctionConfiguration": updateErr} {
				if tc.want == "" {
					if err != nil {
						t.Errorf("%s: %v", op, err)
					}
					continue
				}
				if e, ok := AsError(err); !ok || e.Type != ErrInvalidParameter || e.Message != tc.want {
					t.Errorf("%s: got %v\n want InvalidParameterValueException: %s", op, err, tc.want)
				}
			}
			if tc.want != "" {
				after, err := s.GetFunctionConfiguration(ctx, "f", nil)
				if err != nil || after.RevisionId != before.RevisionId || after.Handler != before.Handler || after.Environment != nil {
					t.Errorf("a refused update changed f: %+v, %v", after, err)
				}
				if _, _, err := s.GetFunction(ctx, "g", nil); err == nil {
					t.Error("a refused create stored g")
				}
				if got := codeFiles(t, s); strings.Join(got, ",") != strings.Join(files, ",") {
					t.Errorf("files %v after a refusal, want %v", got, files)
				}
			}
		})
	}
}

// A received upload is staged from its file: the function gets the upload's
// code and hash, and no temporary file remains, whatever the outcome.
func TestCodeUploads(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	zipA := buildZip(t, zipEntry{name: "bootstrap", content: "A", mode: 0o755})
	zipB := buildZip(t, zipEntry{name: "bootstrap", content: "B", mode: 0o755})
	upload := func(parts ...[]byte) *CodeUpload {
		t.Helper()
		u, err := s.NewCodeUpload()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { u.Close() })
		for i, p := range parts {
			if i > 0 {
				if err := u.Reset(); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := u.Write(p); err != nil {
				t.Fatal(err)
			}
		}
		return u
	}
	noTemp := func(when string) {
		t.Helper()
		for _, f := range codeFiles(t, s) {
			if !strings.HasSuffix(f, ".zip") {
				t.Errorf("%s: temporary file %s remains", when, f)
			}
		}
	}

	// An upload reset for a second ZipFile member keeps only the second.
	u := upload([]byte("an earlier, longer member that is not a zip at all"), zipA)
	in := createIn("f", nil)
	in.Code.Upload = u
	out, err := s.CreateFunction(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := codeSha(zipA); out.CodeSha256 != want || out.CodeSize != int64(len(zipA)) {
		t.Fatalf("CodeSha256 %s, size %d; want %s, %d", out.CodeSha256, out.CodeSize, want, len(zipA))
	}
	u.Close()
	noTemp("after a create")

	dry := upload(zipB)
	out, err = s.UpdateFunctionCode(ctx, &UpdateFunctionCodeInput{FunctionName: "f", Upload: dry, DryRun: true})
	if err != nil || out.CodeSha256 != codeSha(zipB) {
		t.Fatalf("dry run: %v, %v", out, err)
	}
	dry.Close()
	noTemp("after a dry run")

	bad := upload([]byte("PK not a zip"))
	if _, err := s.UpdateFunctionCode(ctx, &UpdateFunctionCodeInput{FunctionName: "f", Upload: bad}); err == nil {
		t.Fatal("a bad zip was accepted")
	}
	bad.Close()
	noTemp("after a refused update")

	big := upload(make([]byte, MaxZippedCodeSize+1))
	_, err = s.UpdateFunctionCode(ctx, &UpdateFunctionCodeInput{FunctionName: "f", Upload: big})
	if e, ok := AsError(err); !ok || e.Type != ErrRequestTooLarge {
		t.Fatalf("an upload over 50 MB: %v", err)
	}
	big.Close()
	noTemp("after a refused upload")

	cfg, err := s.GetFunctionConfiguration(ctx, "f", nil)
	if err != nil || cfg.CodeSha256 != codeSha(zipA) {
		t.Fatalf("after refusals the code is %s, want A's: %v", cfg.CodeSha256, err)
	}
}

func codeSha(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}
