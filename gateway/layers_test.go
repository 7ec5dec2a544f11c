package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/furl-dev/furl/urlconfig"
)

// The Layers API over HTTP: routes, statuses, Content.Location, the find
// query of GetLayerVersionByArn, and AWS's error shapes.
func TestLayersRoutes(t *testing.T) {
	run(t, func(t *testing.T, base string, client *http.Client) {
		call := func(method, path string, body any) (int, string, map[string]any) {
			t.Helper()
			var rd io.Reader
			if body != nil {
				raw, _ := json.Marshal(body)
				rd = bytes.NewReader(raw)
			}
			req, _ := http.NewRequest(method, base+path, rd)
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var out map[string]any
			json.Unmarshal(raw, &out)
			return resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), out
		}
		const arn = "arn:aws:lambda:us-east-1:000000000000:layer:libs"
		status, _, out := call("POST", "/2018-10-31/layers/libs/versions", map[string]any{
			"Content": map[string]any{"ZipFile": testZip(t, "lib")}, "CompatibleRuntimes": []string{"nodejs22.x"},
		})
		if status != http.StatusCreated || out["LayerVersionArn"] != arn+":1" || out["Version"] != float64(1) {
			t.Fatalf("publish: %d %v", status, out)
		}
		loc, _ := out["Content"].(map[string]any)["Location"].(string)
		if !strings.HasPrefix(loc, base+"/_furl/code/") {
			t.Fatalf("Content.Location = %q", loc)
		}
		if resp, err := client.Get(loc); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET Content.Location: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
		status, _, out = call("GET", "/2018-10-31/layers?find=LayerVersion&Arn="+arn+":1", nil)
		if status != http.StatusOK || out["LayerArn"] != arn {
			t.Fatalf("GetLayerVersionByArn: %d %v", status, out)
		}
		status, _, out = call("GET", "/2018-10-31/layers", nil)
		if layers, _ := out["Layers"].([]any); status != http.StatusOK || len(layers) != 1 {
			t.Fatalf("ListLayers: %d %v", status, out)
		}
		for _, tc := range []struct {
			name, method, path string
			status             int
			typ                string
		}{
			{"unknown version", "GET", "/2018-10-31/layers/libs/versions/2", http.StatusNotFound, "ResourceNotFoundException"},
			{"version not a number", "GET", "/2018-10-31/layers/libs/versions/one", http.StatusBadRequest, "ValidationException"},
			{"bad arn", "GET", "/2018-10-31/layers?find=LayerVersion&Arn=nope", http.StatusBadRequest, "ValidationException"},
			{"no policy", "GET", "/2018-10-31/layers/libs/versions/1/policy", http.StatusNotFound, "ResourceNotFoundException"},
			{"delete missing", "DELETE", "/2018-10-31/layers/libs/versions/9", http.StatusNoContent, ""},
		} {
			if status, typ, out := call(tc.method, tc.path, nil); status != tc.status || typ != tc.typ {
				t.Errorf("%s: %d %s %v, want %d %s", tc.name, status, typ, out, tc.status, tc.typ)
			}
		}
		status, _, out = call("POST", "/2018-10-31/layers/libs/versions/1/policy", map[string]any{"StatementId": "s", "Action": "lambda:GetLayerVersion", "Principal": "*"})
		if status != http.StatusCreated || out["RevisionId"] == "" || !strings.Contains(out["Statement"].(string), `"Sid":"s"`) {
			t.Fatalf("AddLayerVersionPermission: %d %v", status, out)
		}
		if status, _, out := call("DELETE", "/2018-10-31/layers/libs/versions/1/policy/s", nil); status != http.StatusNoContent {
			t.Fatalf("RemoveLayerVersionPermission: %d %v", status, out)
		}
	})
}

// An invocation's function carries its layers, in order.
func TestFunctionCarriesLayers(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t)
	var arns []string
	for _, name := range []string{"first", "second"} {
		lv, _, err := s.store.PublishLayerVersion(ctx, &urlconfig.PublishLayerVersionInput{
			LayerName: name, Content: &urlconfig.PublishLayerVersionContent{ZipFile: testZipBytes(t, name)},
		})
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, lv.LayerVersionArn)
	}
	str := func(v string) *string { return &v }
	_, err := s.store.CreateFunction(ctx, &urlconfig.CreateFunctionInput{
		FunctionName: str("fn"), Runtime: str("nodejs22.x"), Handler: str("index.handler"), Role: str("arn:aws:iam::000000000000:role/r"),
		Code: &urlconfig.FunctionCode{ZipFile: testZipBytes(t, "fn")}, Layers: []string{arns[1], arns[0]},
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.store.ResolveVersion(ctx, "fn", nil)
	if err != nil {
		t.Fatal(err)
	}
	fn := s.function(v)
	if len(fn.Layers) != 2 || fn.Layers[0].ARN != arns[1] || fn.Layers[1].ARN != arns[0] {
		t.Fatalf("Layers = %+v, want %v", fn.Layers, []string{arns[1], arns[0]})
	}
	for _, l := range fn.Layers {
		if path, ok := s.store.CodePath(l.CodeHash); !ok || path != l.CodePath {
			t.Errorf("layer %s: path %q, stored %q (%v)", l.ARN, l.CodePath, path, ok)
		}
	}
}
