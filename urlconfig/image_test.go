package urlconfig

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
)

// fakeImages is an image resolver over a fixed set of images; it stands in
// for the Docker engine, which the store's tests do not need.
type fakeImages struct {
	digests map[string]string // ref → digest
	err     error             // answered for every ref when set
	asked   []string
}

func (f *fakeImages) Resolve(ctx context.Context, ref string) (string, error) {
	f.asked = append(f.asked, ref)
	if f.err != nil {
		return "", f.err
	}
	d, ok := f.digests[ref]
	if !ok {
		return "", fmt.Errorf("no such image: %s: %w", ref, fs.ErrNotExist)
	}
	return d, nil
}

// dockerNotFound is an error shaped like the Docker client's "no such
// image": it has a NotFound method and does not wrap fs.ErrNotExist.
type dockerNotFound struct{}

func (dockerNotFound) Error() string { return "Error response from daemon: No such image" }
func (dockerNotFound) NotFound()     {}

var (
	digestA = "sha256:" + strings.Repeat("a", 64)
	digestB = "sha256:" + strings.Repeat("b", 64)
)

func openImageStore(t testing.TB, dir string, images ImageResolver) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{Dir: dir, Account: testAccount, Images: images})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func imageIn(name, uri string) *CreateFunctionInput {
	return &CreateFunctionInput{
		FunctionName: str(name), PackageType: str("Image"),
		Role: str("arn:aws:iam::123456789012:role/r"), Code: &FunctionCode{ImageUri: str(uri)},
	}
}

func testImages() *fakeImages {
	return &fakeImages{digests: map[string]string{
		"furl-test/hello:1":                  digestA,
		"furl-test/hello:2":                  digestB,
		"furl-test/hello:again":              digestA,
		"localhost:5000/team/fn:v1":          digestA,
		"furl-test/hello@" + digestA:         digestA,
		"public.ecr.aws/lambda/provided:al2": digestB,
	}}
}

func TestImageRepository(t *testing.T) {
	tests := []struct {
		ref  string
		repo string // "" means invalid
	}{
		{"hello", "hello"},
		{"hello:latest", "hello"},
		{"furl-test/hello:1", "furl-test/hello"},
		{"localhost:5000/team/fn:v1", "localhost:5000/team/fn"},
		{"localhost:5000/team/fn", "localhost:5000/team/fn"},
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag", "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo"},
		{"hello@" + digestA, "hello"},
		{"hello:tag@" + digestA, "hello"},
		{"a.b_c__d-e--f", "a.b_c__d-e--f"},
		{"", ""},
		{"Hello", ""},
		{"hello:", ""},
		{":tag", ""},
		{"a//b", ""},
		{"a/", ""},
		{"hello@sha256:abc", ""},
		{"hello world", ""},
		{"-hello", ""},
		{strings.Repeat("a", 256), ""},
		{strings.Repeat("a", 255) + ":t", strings.Repeat("a", 255)},
		{"hello:" + strings.Repeat("t", 129), ""},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			repo, ok := imageRepository(tc.ref)
			if ok != (tc.repo != "") || repo != tc.repo {
				t.Errorf("imageRepository(%q) = %q, %v; want %q", tc.ref, repo, ok, tc.repo)
			}
		})
	}
}

// Every refused create of an Image function answers AWS's error and
// stores nothing, and the Docker engine is asked only once the request is
// otherwise valid.
func TestImageCreateRefusals(t *testing.T) {
	long := func(n int) []string { return strings.Split(strings.Repeat("x,", n-1)+"x", ",") }
	zipIn := func(mod func(in *CreateFunctionInput)) func(t *testing.T) *CreateFunctionInput {
		return func(t *testing.T) *CreateFunctionInput {
			in := createIn("fn", buildZip(t, zipEntry{name: "bootstrap", content: "x", mode: 0o755}))
			mod(in)
			return in
		}
	}
	image := func(mod func(in *CreateFunctionInput)) func(t *testing.T) *CreateFunctionInput {
		return func(t *testing.T) *CreateFunctionInput {
			in := imageIn("fn", "furl-test/hello:1")
			mod(in)
			return in
		}
	}
	tests := []struct {
		name    string
		images  ImageResolver // nil: no Docker
		in      func(t *testing.T) *CreateFunctionInput
		typ     string
		message string // the whole message, or a prefix when it ends in "…"
		asked   bool   // whether the resolver was consulted
	}{
		{"no docker", nil, image(func(*CreateFunctionInput) {}), ErrInvalidParameter, needsDockerMessage, false},
		{"runtime", testImages(), image(func(in *CreateFunctionInput) { in.Runtime = str("python3.13") }), ErrInvalidParameter, imageOnlyMessage, false},
		{"handler", testImages(), image(func(in *CreateFunctionInput) { in.Handler = str("app.handler") }), ErrInvalidParameter, imageOnlyMessage, false},
		{"layers", testImages(), image(func(in *CreateFunctionInput) {
			in.Layers = []string{"arn:aws:lambda:us-east-1:123456789012:layer:l:1"}
		}), ErrInvalidParameter, imageOnlyMessage, false},
		{"no image uri", testImages(), image(func(in *CreateFunctionInput) { in.Code.ImageUri = nil }), ErrInvalidParameter,
			"Please provide ImageUri when the intended function PackageType is Image.", false},
		{"zip too", testImages(), image(func(in *CreateFunctionInput) { in.Code.ZipFile = []byte("PK") }), ErrInvalidParameter,
			"Please don't provide ZipFile or S3Bucket or S3Key or S3ObjectVersion when the intended function PackageType is Image.", false},
		{"entry point too long", nil, image(func(in *CreateFunctionInput) { in.ImageConfig = &ImageConfig{EntryPoint: long(1501)} }), ErrValidation,
			"1 validation error detected: Value '[x, x, …", false},
		{"command too long", testImages(), image(func(in *CreateFunctionInput) { in.ImageConfig = &ImageConfig{Command: long(1501)} }), ErrValidation,
			"1 validation error detected: Value '[x, x, …", false},
		{"working directory too long", testImages(), image(func(in *CreateFunctionInput) {
			in.ImageConfig = &ImageConfig{WorkingDirectory: "/" + strings.Repeat("w", 1000)}
		}), ErrValidation, "1 validation error detected: Value '/www…", false},
		{"invalid uri", testImages(), image(func(in *CreateFunctionInput) { in.Code.ImageUri = str("Furl/Hello") }), ErrInvalidParameter,
			"Source image Furl/Hello is not valid. Provide a valid source image.", false},
		{"invalid uri without docker", nil, image(func(in *CreateFunctionInput) { in.Code.ImageUri = str("hello:") }), ErrInvalidParameter,
			"Source image hello: is not valid. Provide a valid source image.", false},
		{"missing image", testImages(), image(func(in *CreateFunctionInput) { in.Code.ImageUri = str("furl-test/nope:1") }), ErrInvalidParameter,
			"Source image furl-test/nope:1 does not exist. Provide a valid source image.", true},
		{"missing image, docker's error", &fakeImages{err: fmt.Errorf("inspect: %w", dockerNotFound{})}, image(func(*CreateFunctionInput) {}), ErrInvalidParameter,
			"Source image furl-test/hello:1 does not exist. Provide a valid source image.", true},
		{"engine down", &fakeImages{err: errors.New("Cannot connect to the Docker daemon")}, image(func(*CreateFunctionInput) {}), ErrService,
			"furl could not look up the image furl-test/hello:1 in the Docker engine; check that the engine is running, then try again.", true},
		{"odd digest", &fakeImages{digests: map[string]string{"furl-test/hello:1": "sha512:00"}}, image(func(*CreateFunctionInput) {}), ErrService,
			"furl could not look up the image furl-test/hello:1 in the Docker engine.", true},
		{"bad environment before docker", testImages(), image(func(in *CreateFunctionInput) {
			in.Environment = &Environment{Variables: map[string]string{"AWS_REGION": "x"}}
		}), ErrInvalidParameter, "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys…", false},
		{"zip with image config", testImages(), zipIn(func(in *CreateFunctionInput) { in.ImageConfig = &ImageConfig{Command: []string{"x"}} }),
			ErrInvalidParameter, imageConfigZipMessage, false},
		{"zip with image uri only", testImages(), zipIn(func(in *CreateFunctionInput) { in.Code = &FunctionCode{ImageUri: str("furl-test/hello:1")} }),
			ErrInvalidParameter, "Please provide a source for function code.", false},
		{"zip with image uri and no runtime", testImages(), zipIn(func(in *CreateFunctionInput) {
			in.Runtime, in.Handler, in.Code = nil, nil, &FunctionCode{ImageUri: str("furl-test/hello:1")}
		}), ErrInvalidParameter, "Runtime and Handler are mandatory parameters for functions created with deployment packages.", false},
		{"zip with both", testImages(), zipIn(func(in *CreateFunctionInput) { in.Code.ImageUri = str("furl-test/hello:1") }),
			ErrInvalidParameter, "Please don't provide ImageUri when the intended function PackageType is Zip.", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			images := tc.images
			fake, _ := images.(*fakeImages)
			if fake == nil {
				images = nil // a typed nil would not be "no Docker"
			}
			s := openImageStore(t, t.TempDir(), images)
			_, err := s.CreateFunction(ctx, tc.in(t))
			e, ok := AsError(err)
			if !ok {
				t.Fatalf("error %v, want %s", err, tc.typ)
			}
			prefix, isPrefix := strings.CutSuffix(tc.message, "…")
			if e.Type != tc.typ || (isPrefix && !strings.HasPrefix(e.Message, prefix)) || (!isPrefix && e.Message != tc.message) {
				t.Errorf("got %s %q\nwant %s %q", e.Type, e.Message, tc.typ, tc.message)
			}
			if fake != nil && (len(fake.asked) > 0) != tc.asked {
				t.Errorf("resolver asked %v; want asked: %v", fake.asked, tc.asked)
			}
			list, err := s.ListFunctions(ctx, &ListFunctionsInput{})
			if err != nil {
				t.Fatal(err)
			}
			if len(list.Functions) != 0 {
				t.Errorf("a refused create stored %d functions", len(list.Functions))
			}
			if got := codeFiles(t, s); len(got) != 0 {
				t.Errorf("a refused create left code files %v", got)
			}
		})
	}
}

// The model's limits name the member and its bound as AWS does.
func TestImageConfigLimitMessages(t *testing.T) {
	ctx := context.Background()
	s := openImageStore(t, t.TempDir(), testImages())
	in := imageIn("fn", "furl-test/hello:1")
	in.ImageConfig = &ImageConfig{Command: make([]string, 1501), WorkingDirectory: strings.Repeat("w", 1001)}
	_, err := s.CreateFunction(ctx, in)
	e, ok := AsError(err)
	if !ok || e.Type != ErrValidation {
		t.Fatalf("error %v, want a ValidationException", err)
	}
	for _, want := range []string{
		"2 validation errors detected: ",
		"at 'imageConfig.command' failed to satisfy constraint: Member must have length less than or equal to 1500",
		"Value '" + strings.Repeat("w", 1001) + "' at 'imageConfig.workingDirectory' failed to satisfy constraint: Member must have length less than or equal to 1000",
	} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message lacks %q:\n%.300s", want, e.Message)
		}
	}
	// At the limits, the config is accepted.
	in.ImageConfig = &ImageConfig{EntryPoint: make([]string, 1500), Command: make([]string, 1500), WorkingDirectory: strings.Repeat("w", 1000)}
	if _, err := s.CreateFunction(ctx, in); err != nil {
		t.Errorf("ImageConfig at its limits refused: %v", err)
	}
}

// An Image function is stored like a zip one, reported as AWS reports
// it, and survives a restart; its code is the image, so no code files.
func TestImageFunctionLifecycle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	images := testImages()
	s := openImageStore(t, dir, images)

	in := imageIn("fn", "furl-test/hello:1")
	in.ImageConfig = &ImageConfig{EntryPoint: []string{"/bootstrap"}, Command: []string{"a", "b"}, WorkingDirectory: "/work"}
	in.EphemeralStorage = &EphemeralStorage{Size: ptr(1024)}
	created, err := s.CreateFunction(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	hexA := strings.Repeat("a", 64)
	if created.PackageType != "Image" || created.CodeSha256 != hexA || created.CodeSize != 0 || created.Runtime != "" || created.Handler != "" ||
		created.RuntimeVersionConfig != nil || created.State != "Pending" {
		t.Errorf("create answered %+v", created)
	}
	wantIC := ImageConfig{EntryPoint: []string{"/bootstrap"}, Command: []string{"a", "b"}, WorkingDirectory: "/work"}
	if created.ImageConfigResponse == nil || fmt.Sprint(*created.ImageConfigResponse.ImageConfig) != fmt.Sprint(wantIC) {
		t.Errorf("ImageConfigResponse %+v, want %+v", created.ImageConfigResponse, wantIC)
	}
	check := func(s *Store, uri, resolved, sum string) *Version {
		t.Helper()
		got, hash, err := s.GetFunction(ctx, "fn", nil)
		if err != nil {
			t.Fatal(err)
		}
		if hash != "" {
			t.Errorf("GetFunction gave a code hash %q for an image", hash)
		}
		want := FunctionCodeLocation{RepositoryType: "ECR", ImageUri: uri, ResolvedImageUri: resolved}
		if *got.Code != want {
			t.Errorf("Code %+v, want %+v", *got.Code, want)
		}
		if got.Configuration.CodeSha256 != sum || got.Configuration.State != "Active" {
			t.Errorf("configuration %+v", got.Configuration)
		}
		v, err := s.ResolveVersion(ctx, "fn", nil)
		if err != nil {
			t.Fatal(err)
		}
		if v.ImageURI != uri || v.ResolvedImageURI != resolved || v.CodeHash != "" || v.CodePath != "" {
			t.Errorf("resolved version: image %q %q, code %q %q", v.ImageURI, v.ResolvedImageURI, v.CodeHash, v.CodePath)
		}
		return v
	}
	v1 := check(s, "furl-test/hello:1", "furl-test/hello@"+digestA, hexA)
	if got := codeFiles(t, s); len(got) != 0 {
		t.Errorf("an image function made code files %v", got)
	}

	// Durable: the same after a restart, with no Docker engine at all.
	s.Close()
	s = openImageStore(t, dir, nil)
	if again := check(s, "furl-test/hello:1", "furl-test/hello@"+digestA, hexA); again.Fingerprint != v1.Fingerprint {
		t.Errorf("fingerprint changed across a restart: %s → %s", v1.Fingerprint, again.Fingerprint)
	}
	s.Close()
	s = openImageStore(t, dir, images)

	// What a managed runtime has is refused, and changes nothing.
	before, _ := s.GetFunctionConfiguration(ctx, "fn", nil)
	for name, upd := range map[string]*UpdateFunctionConfigurationInput{
		"runtime": {FunctionName: "fn", Runtime: str("python3.13")},
		"handler": {FunctionName: "fn", Handler: str("x.y"), Timeout: ptr(9)},
		"layers":  {FunctionName: "fn", Layers: []string{"arn:aws:lambda:us-east-1:123456789012:layer:l:1"}},
	} {
		_, err := s.UpdateFunctionConfiguration(ctx, upd)
		if e, ok := AsError(err); !ok || e.Message != imageOnlyMessage {
			t.Errorf("%s: error %v, want %q", name, err, imageOnlyMessage)
		}
	}
	for name, upd := range map[string]*UpdateFunctionCodeInput{
		"zip":     {FunctionName: "fn", ZipFile: buildZip(t, zipEntry{name: "bootstrap", content: "x", mode: 0o755})},
		"nothing": {FunctionName: "fn"},
		"both":    {FunctionName: "fn", ImageUri: str("furl-test/hello:2"), S3Bucket: str("bucket"), S3Key: str("k")},
	} {
		_, err := s.UpdateFunctionCode(ctx, upd)
		if e, ok := AsError(err); !ok || e.Message != "Please provide ImageUri when updating a function with packageType Image." {
			t.Errorf("%s: error %v", name, err)
		}
	}
	_, err = s.UpdateFunctionCode(ctx, &UpdateFunctionCodeInput{FunctionName: "fn", ImageUri: str("furl-test/nope:1")})
	if e, ok := AsError(err); !ok || e.Message != "Source image furl-test/nope:1 does not exist. Provide a valid source image." {
		t.Errorf("update to a missing image: %v", err)
	}
	after, _ := s.GetFunctionConfiguration(ctx, "fn", nil)
	if after.RevisionId != before.RevisionId || after.Timeout != before.Timeout {
		t.Errorf("refused updates changed the function: %+v", after)
	}

	// A dry run resolves the image but stores nothing.
	dry, err := s.UpdateFunctionCode(ctx, &UpdateFunctionCodeInput{FunctionName: "fn", ImageUri: str("furl-test/hello:2"), DryRun: true})
	if err != nil || dry.CodeSha256 != strings.Repeat("b", 64) {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	check(s, "furl-test/hello:1", "furl-test/hello@"+digestA, hexA)

	// New code: a new digest and fingerprint.
	upd, err := s.UpdateFunctionCode(ctx, &UpdateFunctionCodeInput{FunctionName: "fn", ImageUri: str("furl-test/hello:2")})
	if err != nil {
		t.Fatal(err)
	}
	if upd.CodeSha256 != strings.Repeat("b", 64) || upd.LastUpdateStatus != "InProgress" {
		t.Errorf("update answered %+v", upd)
	}
	v2 := check(s, "furl-test/hello:2", "furl-test/hello@"+digestB, strings.Repeat("b", 64))
	if v2.Fingerprint == v1.Fingerprint {
		t.Error("new image, same fingerprint")
	}

	// ImageConfig is replaced whole, and an empty one removes it.
	cfg, err := s.UpdateFunctionConfiguration(ctx, &UpdateFunctionConfigurationInput{FunctionName: "fn", ImageConfig: &ImageConfig{Command: []string{"c"}}})
	if err != nil {
		t.Fatal(err)
	}
	if ic := cfg.ImageConfigResponse; ic == nil || len(ic.ImageConfig.EntryPoint) != 0 || fmt.Sprint(ic.ImageConfig.Command) != "[c]" || ic.ImageConfig.WorkingDirectory != "" {
		t.Errorf("after replacing ImageConfig: %+v", cfg.ImageConfigResponse)
	}
	v3, _ := s.ResolveVersion(ctx, "fn", nil)
	if v3.Fingerprint == v2.Fingerprint {
		t.Error("new ImageConfig, same fingerprint")
	}
	cfg, err = s.UpdateFunctionConfiguration(ctx, &UpdateFunctionConfigurationInput{FunctionName: "fn", ImageConfig: &ImageConfig{}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ImageConfigResponse != nil {
		t.Errorf("an empty ImageConfig left %+v", cfg.ImageConfigResponse)
	}
	v4, _ := s.ResolveVersion(ctx, "fn", nil)
	if v4.Fingerprint == v3.Fingerprint {
		t.Error("ImageConfig removed, same fingerprint")
	}

	// Versions keep their image; the same digest under another tag is
	// other code, so it publishes a new version.
	p1, err := s.PublishVersion(ctx, &PublishVersionInput{FunctionName: "fn"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateFunctionCode(ctx, &UpdateFunctionCodeInput{FunctionName: "fn", ImageUri: str("furl-test/hello:1")}); err != nil {
		t.Fatal(err)
	}
	p2, err := s.PublishVersion(ctx, &PublishVersionInput{FunctionName: "fn"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateFunctionCode(ctx, &UpdateFunctionCodeInput{FunctionName: "fn", ImageUri: str("furl-test/hello:again")}); err != nil {
		t.Fatal(err)
	}
	p3, err := s.PublishVersion(ctx, &PublishVersionInput{FunctionName: "fn"})
	if err != nil {
		t.Fatal(err)
	}
	if p1.Version != "1" || p2.Version != "2" || p3.Version != "3" {
		t.Errorf("published %s, %s, %s; want 1, 2, 3", p1.Version, p2.Version, p3.Version)
	}
	got, _, err := s.GetFunction(ctx, "fn", str("1"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Code.ImageUri != "furl-test/hello:2" || got.Configuration.Version != "1" {
		t.Errorf("version 1: %+v %+v", got.Code, got.Configuration)
	}
	if got := codeFiles(t, s); len(got) != 0 {
		t.Errorf("image versions made code files %v", got)
	}
	if _, err := s.DeleteFunction(ctx, "fn", nil); err != nil {
		t.Fatal(err)
	}
}

// A Zip function takes no image, and an Image function's create with
// Publish makes version 1.
func TestZipAndImageDoNotMix(t *testing.T) {
	ctx := context.Background()
	s := openImageStore(t, t.TempDir(), testImages())
	if _, err := s.CreateFunction(ctx, createIn("zipfn", buildZip(t, zipEntry{name: "bootstrap", content: "x", mode: 0o755}))); err != nil {
		t.Fatal(err)
	}
	_, err := s.UpdateFunctionCode(ctx, &UpdateFunctionCodeInput{FunctionName: "zipfn", ImageUri: str("furl-test/hello:1")})
	if e, ok := AsError(err); !ok || e.Message != "Please don't provide ImageUri when updating a function with packageType Zip." {
		t.Errorf("ImageUri for a Zip function: %v", err)
	}
	_, err = s.UpdateFunctionConfiguration(ctx, &UpdateFunctionConfigurationInput{FunctionName: "zipfn", ImageConfig: &ImageConfig{EntryPoint: []string{"x"}}})
	if e, ok := AsError(err); !ok || e.Message != imageConfigZipMessage {
		t.Errorf("ImageConfig for a Zip function: %v", err)
	}
	zv, err := s.ResolveVersion(ctx, "zipfn", nil)
	if err != nil {
		t.Fatal(err)
	}
	if zv.CodePath == "" || zv.ImageURI != "" || zv.Config.RuntimeVersionConfig == nil {
		t.Errorf("zip version: %+v", zv)
	}

	in := imageIn("imgfn", "localhost:5000/team/fn:v1")
	in.Publish = true
	out, err := s.CreateFunction(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if out.Version != "1" || out.FunctionArn != testAccount.FunctionARN("imgfn") {
		t.Errorf("create with Publish answered version %s, ARN %s", out.Version, out.FunctionArn)
	}
	got, _, err := s.GetFunction(ctx, "imgfn", str("1"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Code.ResolvedImageUri != "localhost:5000/team/fn@"+digestA {
		t.Errorf("ResolvedImageUri %q", got.Code.ResolvedImageUri)
	}
	if got.Configuration.ImageConfigResponse != nil {
		t.Errorf("no ImageConfig given, yet %+v", got.Configuration.ImageConfigResponse)
	}
}

// The fingerprint follows the image, its digest and its ImageConfig, and
// nothing about a Zip function's fingerprint changed with images.
func TestImageFingerprint(t *testing.T) {
	base := storedConfig{FunctionConfiguration: FunctionConfiguration{PackageType: "Image", MemorySize: 128, Timeout: 3, Version: "$LATEST"},
		ImageUri: "furl-test/hello:1", ResolvedImageUri: "furl-test/hello@" + digestA}
	tests := []struct {
		name string
		mod  func(c *storedConfig)
	}{
		{"uri", func(c *storedConfig) { c.ImageUri = "furl-test/hello:again" }},
		{"digest", func(c *storedConfig) { c.ResolvedImageUri = "furl-test/hello@" + digestB }},
		{"entry point", func(c *storedConfig) {
			c.ImageConfigResponse = &ImageConfigResponse{ImageConfig: &ImageConfig{EntryPoint: []string{"/x"}}}
		}},
		{"command", func(c *storedConfig) {
			c.ImageConfigResponse = &ImageConfigResponse{ImageConfig: &ImageConfig{Command: []string{"x"}}}
		}},
		{"working directory", func(c *storedConfig) {
			c.ImageConfigResponse = &ImageConfigResponse{ImageConfig: &ImageConfig{WorkingDirectory: "/w"}}
		}},
		{"storage", func(c *storedConfig) { c.EphemeralStorage = &EphemeralStorage{Size: ptr(1024)} }},
	}
	want := fingerprint(&base)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mod(&c)
			if fingerprint(&c) == want {
				t.Errorf("changing the %s kept the fingerprint", tc.name)
			}
		})
	}
	// A Zip function's fingerprint, pinned from before image functions.
	zip := storedConfig{FunctionConfiguration: FunctionConfiguration{PackageType: "Zip", Runtime: "nodejs22.x", Handler: "index.handler", MemorySize: 128, Timeout: 3, Version: "$LATEST",
		Architectures: []string{"x86_64"}, EphemeralStorage: &EphemeralStorage{Size: ptr(512)}}, CodeHash: "00"}
	if got := fingerprint(&zip); got != "c9ee9f46d91eecf2fa0fe48297b246ac" {
		t.Errorf("a Zip function's fingerprint is now %s", got)
	}
}
