package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/sam")

// goldenView shows what a parse gave, the fields the JSON of Config
// leaves out included.
func goldenView(fns []TemplateFunction) []any {
	var out []any
	for _, fn := range fns {
		out = append(out, struct {
			TemplateFunction
			Architectures []string `json:"architectures,omitempty"`
			CORS          *CORS    `json:"cors,omitempty"`
			NoURL         bool     `json:"noURL,omitempty"`
		}{fn, fn.Config.Architectures, fn.Config.CORS, fn.Config.NoURL})
	}
	return out
}

// TestParseTemplateGolden parses each testdata/sam/*.yaml and compares
// the functions with the .golden file next to it (-update rewrites them).
// The debug lines of ignored properties are part of the golden output.
func TestParseTemplateGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/sam/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug,
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				}}))
			fns, err := ParseTemplate(raw, log)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(goldenView(fns), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(append(got, "\n----------\n"...), logs.Bytes()...)
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("parse of %s:\n%s\nwant:\n%s", file, got, want)
			}
		})
	}
}

func TestParseTemplateErrors(t *testing.T) {
	fn := func(props string) string {
		return "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n" + props
	}
	for _, tc := range []struct {
		name, tmpl, want string
	}{
		{"not yaml", "Resources: [", "SAM template: yaml:"},
		{"not a mapping", "- a\n- b\n", "top level is not a mapping"},
		{"no resources", "Parameters: {}\n", "has no Resources mapping"},
		{"no function", "Resources:\n  B:\n    Type: AWS::S3::Bucket\n", "has no resource of type AWS::Serverless::Function"},
		{"sub in handler", fn("      Handler: !Sub '${X}.handler'\n"), "Resources.Fn.Properties.Handler: furl deploy does not evaluate Sub"},
		{"getatt in env", fn("      Environment:\n        Variables:\n          T: !GetAtt Table.Arn\n"), "Resources.Fn.Properties.Environment.Variables.T: furl deploy does not evaluate GetAtt"},
		{"long-form join", fn("      Runtime: {\"Fn::Join\": [\"\", [node, js22.x]]}\n"), "Resources.Fn.Properties.Runtime: furl deploy does not evaluate Fn::Join"},
		{"ref to a resource", fn("      CodeUri: !Ref Bucket\n"), "Resources.Fn.Properties.CodeUri: Ref Bucket: furl deploy resolves Ref only to the template's Parameters"},
		{"ref to a pseudo parameter", fn("      FunctionName: !Ref AWS::StackName\n"), "Ref AWS::StackName"},
		{"ref without default", "Parameters:\n  P:\n    Type: String\n" + fn("      Handler: !Ref P\n"), "Resources.Fn.Properties.Handler: Ref P: the parameter has no Default"},
		{"image", fn("      PackageType: Image\n"), "PackageType: furl deploy makes Zip functions only, not Image"},
		{"inline code", fn("      InlineCode: 'exports.handler = 1'\n"), "InlineCode: furl deploy takes code from CodeUri only"},
		{"s3 code mapping", fn("      CodeUri:\n        Bucket: b\n        Key: k\n"), "CodeUri: furl deploy takes a local folder or zip, not an S3 location"},
		{"s3 code uri", fn("      CodeUri: s3://b/k.zip\n"), "not s3://b/k.zip"},
		{"bad name", fn("      FunctionName: 'my fn'\n"), `FunctionName: "my fn" is not a Lambda function name`},
		{"bad invoke mode", fn("      FunctionUrlConfig:\n        AuthType: NONE\n        InvokeMode: STREAM\n"), `InvokeMode: "STREAM" is not BUFFERED or RESPONSE_STREAM`},
		{"memory not a number", fn("      MemorySize: lots\n"), "Resources.Fn.Properties.MemorySize: yaml:"},
		{"same name twice", "Resources:\n  A:\n    Type: AWS::Serverless::Function\n    Properties: {FunctionName: x}\n  B:\n    Type: AWS::Serverless::Function\n    Properties: {FunctionName: x}\n", "A and B are both named x"},
		{"bad logical id", "Resources:\n  'a b':\n    Type: AWS::Serverless::Function\n", "Resources.a b: the logical id is not a Lambda function name"},
		{"too large", "#" + strings.Repeat("x", MaxTemplateBytes), "is over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTemplate([]byte(tc.tmpl), slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrTemplate) {
				t.Fatalf("got %v, want an ErrTemplate containing %q", err, tc.want)
			}
		})
	}
}

// TestParseTemplateIntrinsicsElsewhere: intrinsics in what deploy does
// not read (Events, Policies, other resources, Outputs) are no error.
func TestParseTemplateIntrinsicsElsewhere(t *testing.T) {
	tmpl := `Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      Policies:
        - DynamoDBCrudPolicy: {TableName: !Ref Table}
      Role: !GetAtt R.Arn
  Table:
    Type: AWS::DynamoDB::Table
    Properties: {TableName: !Sub "${AWS::StackName}-t"}
`
	fns, err := ParseTemplate([]byte(tmpl), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || len(fns) != 1 || fns[0].Config.Handler != "index.handler" || fns[0].Config.Name != "Fn" || !fns[0].Config.NoURL {
		t.Fatalf("%v %+v", err, fns)
	}
}

// FuzzParseTemplate: any input parses or fails with ErrTemplate, never
// panics, and what parses is sorted, uniquely and validly named.
func FuzzParseTemplate(f *testing.F) {
	files, _ := filepath.Glob("testdata/sam/*.yaml")
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("Resources:\n  A: &a\n    Type: AWS::Serverless::Function\n    Properties: {Handler: !Ref P}\n  B: *a\nParameters: {P: {Default: x}}\n"))
	f.Add([]byte("Globals: {Function: {Environment: !Ref X}}\nResources: {A: {Type: AWS::Serverless::Function, Properties: {Environment: {Variables: {}}}}}\n"))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, raw []byte) {
		fns, err := ParseTemplate(raw, log)
		if err != nil {
			if !errors.Is(err, ErrTemplate) {
				t.Fatalf("error is not ErrTemplate: %v", err)
			}
			return
		}
		if len(fns) == 0 {
			t.Fatal("no functions and no error")
		}
		if !slices.IsSortedFunc(fns, func(a, b TemplateFunction) int { return strings.Compare(a.LogicalID, b.LogicalID) }) {
			t.Fatal("functions are not sorted")
		}
		seen := map[string]bool{}
		for _, fn := range fns {
			if SanitizeName(fn.Config.Name) != fn.Config.Name || seen[fn.Config.Name] {
				t.Fatalf("bad or repeated name %q", fn.Config.Name)
			}
			seen[fn.Config.Name] = true
		}
	})
}

// TestDeployTemplateRefusals: what deploy refuses of a folder with a
// template, before it calls furl (the endpoint answers nothing).
func TestDeployTemplateRefusals(t *testing.T) {
	const tmpl = "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {Handler: index.handler, Runtime: nodejs22.x}\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		args  []string
		want  string
	}{
		{"name flag", map[string]string{"template.yaml": tmpl}, []string{"--name", "x"}, "--name with template.yaml: a template names its functions"},
		{"furl.json too", map[string]string{"template.yml": tmpl, "furl.json": "{}"}, nil, "holds both template.yml and furl.json"},
		{"intrinsic", map[string]string{"template.yaml": strings.Replace(tmpl, "index.handler", "!Sub '${H}'", 1)}, nil, "Resources.Fn.Properties.Handler: furl deploy does not evaluate Sub"},
		{"missing code", map[string]string{"template.yaml": strings.Replace(tmpl, "Handler:", "CodeUri: gone, Handler:", 1)}, nil, "(CodeUri of Fn)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			args := append(append([]string{"--endpoint", "http://127.0.0.1:1"}, tc.args...), dir)
			if code := Run(t.Context(), args, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), tc.want) || stdout.Len() != 0 {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 1 and %q", code, stdout.String(), stderr.String(), tc.want)
			}
		})
	}
}

// A template whose aliases name aliases stands for billions of nodes in
// a few hundred bytes: parsing it ends with an error, and small.
func TestParseTemplateAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: .\n      Environment:\n        Variables:\n          L0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "          L%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	b.WriteString("Globals:\n  Function:\n    Environment:\n      Variables:\n        L9: *l9\n")
	_, err := ParseTemplate([]byte(b.String()), slog.New(slog.DiscardHandler))
	if !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), "expands past") {
		t.Fatalf("ParseTemplate of an alias bomb: %v", err)
	}
}
