package urlconfig

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func publishIn(name, content string, t testing.TB, runtimes ...string) *PublishLayerVersionInput {
	return &PublishLayerVersionInput{
		LayerName:          name,
		Content:            &PublishLayerVersionContent{ZipFile: buildZip(t, zipEntry{name: "lib/" + name + ".txt", content: content})},
		CompatibleRuntimes: runtimes,
	}
}

func mustPublish(t *testing.T, s *Store, in *PublishLayerVersionInput) (*LayerVersion, string) {
	t.Helper()
	lv, hash, err := s.PublishLayerVersion(context.Background(), in)
	if err != nil {
		t.Fatalf("PublishLayerVersion(%s): %v", in.LayerName, err)
	}
	return lv, hash
}

// wantErr fails unless err is a store error of the type given whose
// message contains msg.
func wantErr(t *testing.T, err error, typ, msg string) {
	t.Helper()
	e, ok := AsError(err)
	if !ok || e.Type != typ || !strings.Contains(e.Message, msg) {
		t.Fatalf("err = %v, want %s containing %q", err, typ, msg)
	}
}

func listedVersions(t *testing.T, s *Store, name string) []int64 {
	t.Helper()
	out, err := s.ListLayerVersions(context.Background(), &ListLayerVersionsInput{LayerName: name})
	if err != nil {
		t.Fatal(err)
	}
	var vs []int64
	for _, v := range out.LayerVersions {
		vs = append(vs, v.Version)
	}
	return vs
}

// Version numbers start at 1, grow per layer, and are never reused, even
// after every version was deleted; deletes are idempotent.
func TestLayerVersionNumbering(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	for i, want := range []int64{1, 2} {
		lv, _ := mustPublish(t, s, publishIn("libs", "v"+string(rune('1'+i)), t, "python3.12"))
		if lv.Version != want || lv.LayerVersionArn != "arn:aws:lambda:us-east-1:123456789012:layer:libs:"+string(rune('0'+want)) {
			t.Fatalf("version %d: %+v", want, lv)
		}
		if lv.LayerArn != "arn:aws:lambda:us-east-1:123456789012:layer:libs" || lv.Content.CodeSize == 0 || lv.Content.CodeSha256 == "" {
			t.Fatalf("version %d: %+v %+v", want, lv, lv.Content)
		}
	}
	if lv, _ := mustPublish(t, s, publishIn("other", "o", t)); lv.Version != 1 {
		t.Fatalf("another layer's first version is %d", lv.Version)
	}
	if got := listedVersions(t, s, "libs"); !slices.Equal(got, []int64{2, 1}) {
		t.Fatalf("ListLayerVersions = %v, want newest first [2 1]", got)
	}
	for range 2 {
		if err := s.DeleteLayerVersion(ctx, "libs", 2); err != nil {
			t.Fatalf("DeleteLayerVersion (twice is fine): %v", err)
		}
	}
	if lv, _ := mustPublish(t, s, publishIn("libs", "v3", t)); lv.Version != 3 {
		t.Fatalf("after deleting 2, the next version is %d, want 3", lv.Version)
	}
	for _, n := range []int64{1, 3} {
		if err := s.DeleteLayerVersion(ctx, "libs", n); err != nil {
			t.Fatal(err)
		}
	}
	if got := listedVersions(t, s, "libs"); len(got) != 0 {
		t.Fatalf("versions after deleting all: %v", got)
	}
	layers, err := s.ListLayers(ctx, &ListLayersInput{})
	if err != nil || len(layers.Layers) != 1 || layers.Layers[0].LayerName != "other" {
		t.Fatalf("ListLayers without libs' versions = %+v, %v", layers, err)
	}
	if lv, _ := mustPublish(t, s, publishIn("libs", "v4", t)); lv.Version != 4 {
		t.Fatalf("after deleting every version, the next is %d, want 4", lv.Version)
	}
	// Deleting what never existed succeeds too.
	if err := s.DeleteLayerVersion(ctx, "never", 1); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.GetLayerVersion(ctx, "libs", 3)
	wantErr(t, err, ErrNotFound, "The resource you requested does not exist.")
	_, _, err = s.GetLayerVersionByArn(ctx, "arn:aws:lambda:us-east-1:123456789012:layer:libs:4")
	if err != nil {
		t.Fatalf("GetLayerVersionByArn: %v", err)
	}
}

// ListLayers shows each layer's newest version that matches the filters,
// in name order and pages; ListLayerVersions pages newest first.
func TestListLayersFiltersAndPages(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	mustPublish(t, s, publishIn("a", "1", t, "python3.12"))
	mustPublish(t, s, publishIn("a", "2", t, "nodejs22.x"))
	mustPublish(t, s, publishIn("b", "1", t, "python3.12"))
	arm := publishIn("c", "1", t)
	arm.CompatibleArchitectures = []string{"arm64"}
	mustPublish(t, s, arm)

	out, err := s.ListLayers(ctx, &ListLayersInput{CompatibleRuntime: str("python3.12")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range out.Layers {
		got = append(got, l.LayerName+":"+l.LatestMatchingVersion.LayerVersionArn[strings.LastIndexByte(l.LatestMatchingVersion.LayerVersionArn, ':')+1:])
	}
	if !slices.Equal(got, []string{"a:1", "b:1"}) {
		t.Fatalf("python3.12 layers = %v", got)
	}
	out, err = s.ListLayers(ctx, &ListLayersInput{CompatibleArchitecture: str("arm64")})
	if err != nil || len(out.Layers) != 1 || out.Layers[0].LayerName != "c" {
		t.Fatalf("arm64 layers = %+v, %v", out, err)
	}
	page, err := s.ListLayers(ctx, &ListLayersInput{MaxItems: ptr(2)})
	if err != nil || len(page.Layers) != 2 || page.NextMarker == nil || *page.NextMarker != "c" {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	page, err = s.ListLayers(ctx, &ListLayersInput{MaxItems: ptr(2), Marker: page.NextMarker})
	if err != nil || len(page.Layers) != 1 || page.Layers[0].LayerName != "c" || page.NextMarker != nil {
		t.Fatalf("second page = %+v, %v", page, err)
	}
	vpage, err := s.ListLayerVersions(ctx, &ListLayerVersionsInput{LayerName: "a", MaxItems: ptr(1)})
	if err != nil || len(vpage.LayerVersions) != 1 || vpage.LayerVersions[0].Version != 2 || deref(vpage.NextMarker) != "1" {
		t.Fatalf("versions page 1 = %+v, %v", vpage, err)
	}
	vpage, err = s.ListLayerVersions(ctx, &ListLayerVersionsInput{LayerName: "a", MaxItems: ptr(1), Marker: vpage.NextMarker})
	if err != nil || len(vpage.LayerVersions) != 1 || vpage.LayerVersions[0].Version != 1 || vpage.NextMarker != nil {
		t.Fatalf("versions page 2 = %+v, %v", vpage, err)
	}
	_, err = s.ListLayers(ctx, &ListLayersInput{CompatibleRuntime: str("cobol")})
	wantErr(t, err, ErrValidation, "compatibleRuntime")
}

// Bad input is refused with AWS's error types and changes nothing.
func TestLayerValidation(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	mustPublish(t, s, publishIn("libs", "1", t))
	before := codeFiles(t, s)
	cases := []struct {
		name, typ, msg string
		in             *PublishLayerVersionInput
	}{
		{"bad name", ErrValidation, "layerName", publishIn("bad name", "x", t)},
		{"no content", ErrValidation, "content", &PublishLayerVersionInput{LayerName: "libs"}},
		{"bad zip", ErrInvalidParameter, unzipFailed, &PublishLayerVersionInput{LayerName: "libs", Content: &PublishLayerVersionContent{ZipFile: []byte("not a zip")}}},
		{"s3", ErrInvalidParameter, "furl does not support deploying code from S3", &PublishLayerVersionInput{LayerName: "libs", Content: &PublishLayerVersionContent{S3Bucket: str("bucket"), S3Key: str("k")}}},
		{"bad runtime", ErrValidation, "compatibleRuntimes", publishIn("libs", "x", t, "cobol")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.PublishLayerVersion(ctx, tc.in)
			wantErr(t, err, tc.typ, tc.msg)
		})
	}
	if got := listedVersions(t, s, "libs"); !slices.Equal(got, []int64{1}) {
		t.Fatalf("versions after refusals: %v", got)
	}
	if after := codeFiles(t, s); !slices.Equal(before, after) {
		t.Fatalf("code files changed: %v → %v", before, after)
	}
	_, _, err := s.GetLayerVersionByArn(ctx, "arn:aws:lambda:us-east-1:123456789012:layer:libs")
	wantErr(t, err, ErrValidation, "arn")
	_, _, err = s.GetLayerVersionByArn(ctx, "arn:aws:lambda:us-east-1:123456789012:layer:libs:9")
	wantErr(t, err, ErrNotFound, "The resource you requested does not exist.")
	_, _, err = s.GetLayerVersion(ctx, "libs!", 1)
	wantErr(t, err, ErrValidation, "layerName")
}

// A layer version's content stays while a function configuration uses
// it, after the version itself is deleted, and goes with the last user.
func TestLayerContentFollowsReferences(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	lv, hash := mustPublish(t, s, publishIn("libs", "shared code", t))
	in := createIn("fn", buildZip(t, zipEntry{name: "bootstrap", content: "x", mode: 0o755}))
	in.Layers = []string{lv.LayerVersionArn}
	in.Publish = true
	cfg, err := s.CreateFunction(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Layers) != 1 || cfg.Layers[0].Arn != lv.LayerVersionArn || cfg.Layers[0].CodeSize != lv.Content.CodeSize {
		t.Fatalf("Layers = %+v", cfg.Layers)
	}
	if err := s.DeleteLayerVersion(ctx, "libs", 1); err != nil {
		t.Fatal(err)
	}
	path, ok := s.CodePath(hash)
	if _, err := os.Stat(path); !ok || err != nil {
		t.Fatalf("the layer's content went while functions use it: referenced %v, %v", ok, err)
	}
	for _, q := range []string{"", "1"} {
		v, err := s.ResolveVersion(ctx, "fn", ptrIf(q))
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Layers) != 1 || v.Layers[0].ARN != lv.LayerVersionArn || v.Layers[0].CodeHash != hash || v.Layers[0].CodePath != path {
			t.Fatalf("version %q layers = %+v", q, v.Layers)
		}
	}
	// $LATEST lets go of the layer; version 1 still holds it.
	if _, err := s.UpdateFunctionConfiguration(ctx, &UpdateFunctionConfigurationInput{FunctionName: "fn", Layers: []string{}}); err != nil {
		t.Fatal(err)
	}
	latest, err := s.GetFunctionConfiguration(ctx, "fn", nil)
	if err != nil || len(latest.Layers) != 0 {
		t.Fatalf("after Layers: [], $LATEST has %+v, %v", latest, err)
	}
	if _, ok := s.CodePath(hash); !ok {
		t.Fatal("version 1 no longer holds the layer's content")
	}
	if _, err := s.DeleteFunction(ctx, "fn", ptr("1")); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.CodePath(hash); ok {
		t.Fatal("the content of a deleted layer version outlived its last user")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the layer's zip is still on disk: %v", err)
	}
}

func ptrIf(q string) *string {
	if q == "" {
		return nil
	}
	return &q
}

// Layers on a function: at most 5, each existing, no layer twice, within
// the unzipped limit with the code; a refused change leaves the function as it was.
func TestFunctionLayersRefused(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	lv, _ := mustPublish(t, s, publishIn("libs", "1", t))
	lv2, _ := mustPublish(t, s, publishIn("libs", "2", t))
	if _, err := s.CreateFunction(ctx, createIn("fn", buildZip(t, zipEntry{name: "bootstrap", content: "x", mode: 0o755}))); err != nil {
		t.Fatal(err)
	}
	before, err := s.GetFunctionConfiguration(ctx, "fn", nil)
	if err != nil {
		t.Fatal(err)
	}
	files := codeFiles(t, s)
	missing := "arn:aws:lambda:us-east-1:123456789012:layer:libs:7"
	cases := []struct {
		name, typ, msg string
		layers         []string
	}{
		{"six", ErrInvalidParameter, "Cannot reference more than 5 layers.", slices.Repeat([]string{lv.LayerVersionArn}, 6)},
		{"two versions", ErrInvalidParameter, "Two different versions of the same layer are not allowed to be referenced in the same function. " +
			lv.LayerVersionArn + " and " + lv2.LayerVersionArn + " are versions of the same layer.", []string{lv.LayerVersionArn, lv2.LayerVersionArn}},
		{"one version twice", ErrInvalidParameter, "Two different versions of the same layer are not allowed to be referenced in the same function. " +
			lv.LayerVersionArn + " and " + lv.LayerVersionArn + " are versions of the same layer.", []string{lv.LayerVersionArn, lv.LayerVersionArn}},
		{"missing", ErrInvalidParameter, "Layer version " + missing + " does not exist.", []string{lv.LayerVersionArn, missing}},
		{"other account", ErrInvalidParameter, "does not exist.", []string{"arn:aws:lambda:us-east-1:999999999999:layer:libs:1"}},
		{"not an arn", ErrValidation, "layers.member", []string{"libs"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.UpdateFunctionConfiguration(ctx, &UpdateFunctionConfigurationInput{FunctionName: "fn", Layers: tc.layers})
			wantErr(t, err, tc.typ, tc.msg)
			in := createIn("fn2", buildZip(t, zipEntry{name: "bootstrap", content: "x", mode: 0o755}))
			in.Layers = tc.layers
			_, err = s.CreateFunction(ctx, in)
			wantErr(t, err, tc.typ, tc.msg)
		})
	}
	after, err := s.GetFunctionConfiguration(ctx, "fn", nil)
	if err != nil || after.RevisionId != before.RevisionId || len(after.Layers) != 0 {
		t.Fatalf("a refused update changed the function: %+v, %v", after, err)
	}
	if _, err := s.GetFunctionConfiguration(ctx, "fn2", nil); err == nil {
		t.Fatal("a refused create made the function")
	}
	if got := codeFiles(t, s); !slices.Equal(got, files) {
		t.Fatalf("code files changed: %v → %v", files, got)
	}
	if err := checkCombinedSize(MaxUnzippedCodeSize-10, 10); err != nil {
		t.Fatalf("exactly the limit is refused: %v", err)
	}
	wantErr(t, checkCombinedSize(MaxUnzippedCodeSize-10, 11), ErrInvalidParameter,
		"Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. The actual size is 262144001 bytes.")
}

// A function's layers are part of its fingerprint, and are copied into
// the versions it publishes.
func TestLayersInFingerprintAndVersions(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	one, _ := mustPublish(t, s, publishIn("libs", "1", t))
	two, _ := mustPublish(t, s, publishIn("tools", "2", t))
	if _, err := s.CreateFunction(ctx, createIn("fn", buildZip(t, zipEntry{name: "bootstrap", content: "x", mode: 0o755}))); err != nil {
		t.Fatal(err)
	}
	fingerprint := func() string {
		v, err := s.ResolveVersion(ctx, "fn", nil)
		if err != nil {
			t.Fatal(err)
		}
		return v.Fingerprint
	}
	seen := map[string]bool{fingerprint(): true}
	for _, layers := range [][]string{{one.LayerVersionArn}, {two.LayerVersionArn}, {one.LayerVersionArn, two.LayerVersionArn}} {
		if _, err := s.UpdateFunctionConfiguration(ctx, &UpdateFunctionConfigurationInput{FunctionName: "fn", Layers: layers}); err != nil {
			t.Fatal(err)
		}
		fp := fingerprint()
		if seen[fp] {
			t.Fatalf("layers %v did not change the fingerprint", layers)
		}
		seen[fp] = true
	}
	ver, err := s.PublishVersion(ctx, &PublishVersionInput{FunctionName: "fn"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ver.Layers) != 2 || ver.Layers[0].Arn != one.LayerVersionArn || ver.Layers[1].Arn != two.LayerVersionArn {
		t.Fatalf("published version's layers = %+v", ver.Layers)
	}
}

// A layer version's policy: statements added, read, removed, with AWS's
// errors.
func TestLayerVersionPolicy(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	mustPublish(t, s, publishIn("libs", "1", t))
	_, err := s.GetLayerVersionPolicy(ctx, "libs", 1)
	wantErr(t, err, ErrNotFound, "No policy is associated with the given resource.")
	add := func(sid, principal string) (*AddLayerVersionPermissionOutput, error) {
		return s.AddLayerVersionPermission(ctx, &AddLayerVersionPermissionInput{
			LayerName: "libs", VersionNumber: 1, StatementId: str(sid), Action: str("lambda:GetLayerVersion"), Principal: str(principal),
		})
	}
	out, err := add("everyone", "*")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Sid":"everyone","Effect":"Allow","Principal":"*","Action":"lambda:GetLayerVersion","Resource":"arn:aws:lambda:us-east-1:123456789012:layer:libs:1"}`
	if out.Statement != want || out.RevisionId == "" {
		t.Fatalf("statement = %s, want %s", out.Statement, want)
	}
	if _, err := add("acct", "210987654321"); err != nil {
		t.Fatal(err)
	}
	_, err = add("acct", "*")
	wantErr(t, err, ErrConflict, "The statement id (acct) provided already exists.")
	_, err = add("bad", "sns.amazonaws.com")
	wantErr(t, err, ErrValidation, "principal")
	_, err = s.AddLayerVersionPermission(ctx, &AddLayerVersionPermissionInput{LayerName: "libs", VersionNumber: 2, StatementId: str("x"), Action: str("lambda:GetLayerVersion"), Principal: str("*")})
	wantErr(t, err, ErrNotFound, "The resource you requested does not exist.")
	pol, err := s.GetLayerVersionPolicy(ctx, "libs", 1)
	if err != nil || !strings.Contains(pol.Policy, `"Sid":"everyone"`) || !strings.Contains(pol.Policy, `{"AWS":"arn:aws:iam::210987654321:root"}`) {
		t.Fatalf("policy = %+v, %v", pol, err)
	}
	err = s.RemoveLayerVersionPermission(ctx, "libs", 1, "everyone", str("stale"))
	wantErr(t, err, ErrPreconditionFailed, "Revision Id")
	if err := s.RemoveLayerVersionPermission(ctx, "libs", 1, "everyone", nil); err != nil {
		t.Fatal(err)
	}
	err = s.RemoveLayerVersionPermission(ctx, "libs", 1, "everyone", nil)
	wantErr(t, err, ErrNotFound, "Statement everyone is not found in resource policy.")
	pol, err = s.GetLayerVersionPolicy(ctx, "libs", 1)
	if err != nil || strings.Contains(pol.Policy, "everyone") {
		t.Fatalf("policy after removal = %+v, %v", pol, err)
	}
	// The policy goes with its version.
	if err := s.DeleteLayerVersion(ctx, "libs", 1); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetLayerVersionPolicy(ctx, "libs", 1)
	wantErr(t, err, ErrNotFound, "")
}
