package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/furl-dev/furl/urlconfig"
)

// testImages resolves a fixed set of image references; it stands in for
// the Docker engine in the gateway's tests.
type testImages map[string]string

func (m testImages) Resolve(ctx context.Context, ref string) (string, error) {
	if d, ok := m[ref]; ok {
		return d, nil
	}
	return "", fmt.Errorf("no such image %s: %w", ref, fs.ErrNotExist)
}

var (
	testDigestA = "sha256:" + strings.Repeat("a", 64)
	testDigestB = "sha256:" + strings.Repeat("b", 64)
)

// newImageTestServer is newTestServer with images to resolve; nil images
// is a furl without Docker.
func newImageTestServer(t testing.TB, images urlconfig.ImageResolver) *Server {
	t.Helper()
	now := time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)
	store, err := urlconfig.Open(context.Background(), urlconfig.Options{
		Dir:         t.TempDir(),
		Account:     urlconfig.Account{ID: "000000000000", Region: "us-east-1"},
		Logger:      slog.New(slog.DiscardHandler),
		Now:         func() time.Time { return now },
		FunctionURL: urlconfig.DefaultFunctionURL("us-east-1", 4580),
		Images:      images,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return New(Config{Store: store, Logger: slog.New(slog.DiscardHandler), Version: "test"})
}

func goldenImages() testImages {
	return testImages{"furl-test/hello:1": testDigestA, "furl-test/hello:2": testDigestB, "localhost:5000/team/plain": testDigestB}
}

// imageScenario drives the operations that treat Image functions apart
// from Zip ones, with the errors AWS gives for mixing them.
func imageScenario(t testing.TB) []step {
	fn := "/2015-03-31/functions/img"
	role := "arn:aws:iam::000000000000:role/r"
	return []step{
		{"CreateFunction Image", "POST", "/2015-03-31/functions", map[string]any{
			"FunctionName": "img", "PackageType": "Image", "Role": role, "Code": map[string]any{"ImageUri": "furl-test/hello:1"},
			"ImageConfig":   map[string]any{"EntryPoint": []string{"/lambda-entrypoint.sh"}, "Command": []string{"app.handler"}, "WorkingDirectory": "/var/task"},
			"Architectures": []string{"arm64"}, "EphemeralStorage": map[string]any{"Size": 2048}, "MemorySize": 256,
			"Environment": map[string]any{"Variables": map[string]string{"STAGE": "dev"}},
		}},
		{"CreateFunction Image without ImageConfig", "POST", "/2015-03-31/functions", map[string]any{
			"FunctionName": "plain", "PackageType": "Image", "Role": role, "Code": map[string]any{"ImageUri": "localhost:5000/team/plain"},
		}},
		{"GetFunction Image", "GET", fn, nil},
		{"GetFunction Image without ImageConfig", "GET", "/2015-03-31/functions/plain", nil},
		{"GetFunctionConfiguration Image", "GET", fn + "/configuration", nil},
		{"ListFunctions", "GET", "/2015-03-31/functions", nil},
		{"UpdateFunctionConfiguration ImageConfig", "PUT", fn + "/configuration", map[string]any{"ImageConfig": map[string]any{"Command": []string{"other.handler"}}}},
		{"UpdateFunctionConfiguration Runtime", "PUT", fn + "/configuration", map[string]any{"Runtime": "python3.13", "Handler": "app.handler"}},
		{"UpdateFunctionCode ZipFile", "PUT", fn + "/code", map[string]any{"ZipFile": testZip(t, "x")}},
		{"UpdateFunctionCode missing image", "PUT", fn + "/code", map[string]any{"ImageUri": "furl-test/hello:3"}},
		{"UpdateFunctionCode ImageUri", "PUT", fn + "/code", map[string]any{"ImageUri": "furl-test/hello:2"}},
		{"PublishVersion", "POST", fn + "/versions", nil},
		{"GetFunction version", "GET", fn + "?Qualifier=1", nil},
		{"ListVersionsByFunction", "GET", fn + "/versions", nil},
		{"UpdateFunctionConfiguration empty ImageConfig", "PUT", fn + "/configuration", map[string]any{"ImageConfig": map[string]any{}}},
		{"CreateFunction Image with Runtime", "POST", "/2015-03-31/functions", map[string]any{
			"FunctionName": "bad", "PackageType": "Image", "Role": role, "Runtime": "python3.13", "Code": map[string]any{"ImageUri": "furl-test/hello:1"},
		}},
		{"CreateFunction Image without ImageUri", "POST", "/2015-03-31/functions", map[string]any{
			"FunctionName": "bad", "PackageType": "Image", "Role": role, "Code": map[string]any{},
		}},
		{"CreateFunction Image ImageConfig too long", "POST", "/2015-03-31/functions", map[string]any{
			"FunctionName": "bad", "PackageType": "Image", "Role": role, "Code": map[string]any{"ImageUri": "furl-test/hello:1"},
			"ImageConfig": map[string]any{"WorkingDirectory": "/" + strings.Repeat("w", 1000)},
		}},
		{"CreateFunction Image invalid ImageUri", "POST", "/2015-03-31/functions", map[string]any{
			"FunctionName": "bad", "PackageType": "Image", "Role": role, "Code": map[string]any{"ImageUri": "Furl-Test/Hello"},
		}},
		{"CreateFunction Image missing image", "POST", "/2015-03-31/functions", map[string]any{
			"FunctionName": "bad", "PackageType": "Image", "Role": role, "Code": map[string]any{"ImageUri": "furl-test/nope:1"},
		}},
		{"CreateFunction Zip with ImageUri", "POST", "/2015-03-31/functions", map[string]any{
			"FunctionName": "bad", "Runtime": "nodejs22.x", "Handler": "index.handler", "Role": role, "Code": map[string]any{"ImageUri": "furl-test/hello:1"},
		}},
		{"CreateFunction Zip", "POST", "/2015-03-31/functions", map[string]any{
			"FunctionName": "zipfn", "Runtime": "nodejs22.x", "Handler": "index.handler", "Role": role, "Code": map[string]any{"ZipFile": testZip(t, "x")},
		}},
		{"UpdateFunctionCode Zip with ImageUri", "PUT", "/2015-03-31/functions/zipfn/code", map[string]any{"ImageUri": "furl-test/hello:1"}},
		{"UpdateFunctionConfiguration Zip with ImageConfig", "PUT", "/2015-03-31/functions/zipfn/configuration", map[string]any{"ImageConfig": map[string]any{"Command": []string{"x"}}}},
		{"GetFunction Zip", "GET", "/2015-03-31/functions/zipfn", nil},
		{"DeleteFunction Image", "DELETE", fn, nil},
		{"ListFunctions after", "GET", "/2015-03-31/functions", nil},
	}
}

// Image functions' answers, byte for byte after normalising random ids,
// are pinned in testdata/imagefn.golden.
func TestImageFunctionGolden(t *testing.T) {
	runWith(t, func(t *testing.T) http.Handler { return newImageTestServer(t, goldenImages()) }, func(t *testing.T, base string, client *http.Client) {
		checkGolden(t, "imagefn.golden", recordSteps(t, base, client, imageScenario(t)))
	})
}

// Without a Docker engine furl refuses Image functions, says why, and
// stores nothing; bad input still gets AWS's error first.
func TestImageFunctionsNeedDocker(t *testing.T) {
	runWith(t, func(t *testing.T) http.Handler { return newImageTestServer(t, nil) }, func(t *testing.T, base string, client *http.Client) {
		create := func(body map[string]any) (int, string, string) {
			t.Helper()
			raw, _ := json.Marshal(body)
			resp, err := client.Post(base+"/2015-03-31/functions", "application/json", strings.NewReader(string(raw)))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct {
				Message string `json:"message"`
			}
			b, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("answer %s: %v", b, err)
			}
			return resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), e.Message
		}
		body := map[string]any{"FunctionName": "img", "PackageType": "Image", "Role": "arn:aws:iam::000000000000:role/r", "Code": map[string]any{"ImageUri": "furl-test/hello:1"}}
		status, typ, msg := create(body)
		if status != http.StatusBadRequest || typ != "InvalidParameterValueException" || !strings.Contains(msg, "furl needs a Docker engine") || !strings.Contains(msg, "--sandbox docker") {
			t.Errorf("without Docker: %d %s %q", status, typ, msg)
		}
		withRuntime := map[string]any{"Runtime": "python3.13"}
		for k, v := range body {
			withRuntime[k] = v
		}
		status, typ, msg = create(withRuntime)
		if status != http.StatusBadRequest || typ != "InvalidParameterValueException" || msg != "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image." {
			t.Errorf("Runtime with Image, without Docker: %d %s %q", status, typ, msg)
		}
		resp, err := client.Get(base + "/2015-03-31/functions")
		if err != nil {
			t.Fatal(err)
		}
		var list struct{ Functions []json.RawMessage }
		json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if len(list.Functions) != 0 {
			t.Errorf("refused creates stored %d functions", len(list.Functions))
		}
	})
}

// An Image version runs as its image, with no runtime, handler or zip; a
// Zip version as before. Both carry their /tmp size.
func TestFunctionFromVersion(t *testing.T) {
	ctx := context.Background()
	s := newImageTestServer(t, goldenImages())
	str := func(v string) *string { return &v }
	_, err := s.store.CreateFunction(ctx, &urlconfig.CreateFunctionInput{
		FunctionName: str("img"), PackageType: str("Image"), Role: str("arn:aws:iam::000000000000:role/r"),
		Code:             &urlconfig.FunctionCode{ImageUri: str("furl-test/hello:1")},
		ImageConfig:      &urlconfig.ImageConfig{EntryPoint: []string{"/e"}, Command: []string{"c1", "c2"}, WorkingDirectory: "/w"},
		EphemeralStorage: &urlconfig.EphemeralStorage{Size: ptrInt(4096)},
		Architectures:    []string{"arm64"},
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.store.ResolveVersion(ctx, "img", nil)
	if err != nil {
		t.Fatal(err)
	}
	fn := s.function(v)
	if fn.PackageType != "Image" || fn.Image.URI != "furl-test/hello:1" || !slices.Equal(fn.Image.EntryPoint, []string{"/e"}) ||
		!slices.Equal(fn.Image.Command, []string{"c1", "c2"}) || fn.Image.WorkingDirectory != "/w" {
		t.Errorf("image function: %+v", fn)
	}
	if fn.Runtime != "" || fn.Handler != "" || fn.CodeHash != "" || fn.CodePath != "" || fn.RuntimeVersionARN != "" {
		t.Errorf("image function has zip settings: %+v", fn)
	}
	if fn.EphemeralStorageMB != 4096 || fn.Architecture != "arm64" || fn.Fingerprint != v.Fingerprint || fn.Fingerprint == "" {
		t.Errorf("image function: storage %d, architecture %s, fingerprint %q", fn.EphemeralStorageMB, fn.Architecture, fn.Fingerprint)
	}
	// The function's slices are its own: the resolved version is shared.
	fn.Image.Command[0] = "changed"
	if again := s.function(v); again.Image.Command[0] != "c1" {
		t.Error("changing a Function's image command changed the shared version")
	}

	_, err = s.store.CreateFunction(ctx, &urlconfig.CreateFunctionInput{
		FunctionName: str("zipfn"), Runtime: str("nodejs22.x"), Handler: str("index.handler"), Role: str("arn:aws:iam::000000000000:role/r"),
		Code: &urlconfig.FunctionCode{ZipFile: zipBytes(t, "x")},
	})
	if err != nil {
		t.Fatal(err)
	}
	zv, err := s.store.ResolveVersion(ctx, "zipfn", nil)
	if err != nil {
		t.Fatal(err)
	}
	zfn := s.function(zv)
	if zfn.PackageType != "Zip" || zfn.Runtime != "nodejs22.x" || zfn.Handler != "index.handler" || zfn.CodeHash == "" || zfn.CodePath == "" ||
		zfn.RuntimeVersionARN == "" || zfn.Image.URI != "" || zfn.EphemeralStorageMB != 512 {
		t.Errorf("zip function: %+v", zfn)
	}
}

func ptrInt(n int) *int { return &n }

func zipBytes(t testing.TB, content string) []byte {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(testZip(t, content))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
