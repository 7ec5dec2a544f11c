package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// processSandboxFlags are the flags that keep furl off Docker: --sandbox
// process where the binary has that flag. A furl without it runs only the
// process sandbox and has no Docker engine to resolve images with either.
func processSandboxFlags(t testing.TB) []string {
	t.Helper()
	help, _ := exec.Command(furlBin, "serve", "--help").CombinedOutput()
	if strings.Contains(string(help), "-sandbox") {
		return []string{"--sandbox", "process"}
	}
	t.Log("this furl has no --sandbox flag; started plainly, it has no Docker engine")
	return nil
}

// With no Docker engine behind it, furl refuses PackageType Image
// functions with a clear InvalidParameterValueException and stores
// nothing; bad input gets AWS's own error first, and no refusal touches
// the functions already there, even across a restart.
func TestImageFunctionsWithoutDocker(t *testing.T) {
	dataDir := t.TempDir()
	flags := processSandboxFlags(t)
	f := startFurl(t, dataDir, "127.0.0.1:0", flags...)
	c := f.client()

	// A Zip function whose state must come through every refusal intact.
	zipCode := nodeZip(t, "kept")
	kept, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String("kept"), Runtime: types.RuntimeNodejs20x, Role: aws.String(testRole),
		Handler: aws.String("index.handler"), Code: &types.FunctionCode{ZipFile: zipCode},
	})
	if err != nil {
		t.Fatal(err)
	}
	filesBefore := codeFiles(t, f)

	image := func(mod func(in *lambda.CreateFunctionInput)) *lambda.CreateFunctionInput {
		in := &lambda.CreateFunctionInput{
			FunctionName: aws.String("img"), PackageType: types.PackageTypeImage, Role: aws.String(testRole),
			Code: &types.FunctionCode{ImageUri: aws.String("furl-test/hello:latest")},
		}
		mod(in)
		return in
	}

	// The refusal says what furl lacks and how to give it.
	_, err = c.CreateFunction(ctx(t), image(func(in *lambda.CreateFunctionInput) {
		in.ImageConfig = &types.ImageConfig{Command: []string{"app.handler"}}
	}))
	msg := apiErrCode(t, err, "InvalidParameterValueException")
	mustContain(t, msg, "furl needs a Docker engine to run container image functions")
	mustContain(t, msg, "--sandbox docker")

	many := make([]string, 1501)
	for i := range many {
		many[i] = "x"
	}
	tests := []struct {
		name    string
		in      *lambda.CreateFunctionInput
		code    string
		message string // a prefix when it ends in "…"
	}{
		{"runtime with image", image(func(in *lambda.CreateFunctionInput) { in.Runtime = types.RuntimePython313 }),
			"InvalidParameterValueException", "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image."},
		{"handler with image", image(func(in *lambda.CreateFunctionInput) { in.Handler = aws.String("app.handler") }),
			"InvalidParameterValueException", "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image."},
		{"no image uri", image(func(in *lambda.CreateFunctionInput) { in.Code = &types.FunctionCode{} }),
			"InvalidParameterValueException", "Please provide ImageUri when the intended function PackageType is Image."},
		{"entry point too long", image(func(in *lambda.CreateFunctionInput) { in.ImageConfig = &types.ImageConfig{EntryPoint: many} }),
			"ValidationException", "1 validation error detected: Value '[x, x, …"},
		{"working directory too long", image(func(in *lambda.CreateFunctionInput) {
			in.ImageConfig = &types.ImageConfig{WorkingDirectory: aws.String(strings.Repeat("w", 1001))}
		}), "ValidationException", "1 validation error detected: Value '" + strings.Repeat("w", 1001) +
			"' at 'imageConfig.workingDirectory' failed to satisfy constraint: Member must have length less than or equal to 1000"},
		{"invalid image uri", image(func(in *lambda.CreateFunctionInput) {
			in.Code = &types.FunctionCode{ImageUri: aws.String("Not/Valid:")}
		}),
			"InvalidParameterValueException", "Source image Not/Valid: is not valid. Provide a valid source image."},
		{"zip with image config", &lambda.CreateFunctionInput{
			FunctionName: aws.String("zipimg"), Runtime: types.RuntimeNodejs20x, Role: aws.String(testRole), Handler: aws.String("index.handler"),
			Code: &types.FunctionCode{ZipFile: zipCode}, ImageConfig: &types.ImageConfig{Command: []string{"x"}},
		}, "InvalidParameterValueException", "ImageConfig is only supported for functions with PackageType Image."},
		{"zip with image uri", &lambda.CreateFunctionInput{
			FunctionName: aws.String("zipimg"), Runtime: types.RuntimeNodejs20x, Role: aws.String(testRole), Handler: aws.String("index.handler"),
			Code: &types.FunctionCode{ImageUri: aws.String("furl-test/hello:latest")},
		}, "InvalidParameterValueException", "Please provide a source for function code."},
		{"existing name", image(func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String("kept") }),
			"InvalidParameterValueException", "furl needs a Docker engine…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateFunction(ctx(t), tc.in)
			if prefix, ok := strings.CutSuffix(tc.message, "…"); ok {
				if msg := apiErrCode(t, err, tc.code); !strings.HasPrefix(msg, prefix) {
					t.Errorf("message %.200q, want it to start with %q", msg, prefix)
				}
				return
			}
			apiErr(t, err, tc.code, tc.message)
		})
	}

	// The Zip function takes neither an image nor an ImageConfig.
	_, err = c.UpdateFunctionCode(ctx(t), &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("kept"), ImageUri: aws.String("furl-test/hello:latest")})
	apiErr(t, err, "InvalidParameterValueException", "Please don't provide ImageUri when updating a function with packageType Zip.")
	_, err = c.UpdateFunctionConfiguration(ctx(t), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("kept"), ImageConfig: &types.ImageConfig{EntryPoint: []string{"/x"}}, Timeout: aws.Int32(30),
	})
	apiErr(t, err, "InvalidParameterValueException", "ImageConfig is only supported for functions with PackageType Image.")

	checkState := func(f *furl) {
		t.Helper()
		c := f.client()
		list, err := c.ListFunctions(ctx(t), &lambda.ListFunctionsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Functions) != 1 || aws.ToString(list.Functions[0].FunctionName) != "kept" {
			t.Fatalf("functions %s, want only kept", jsonOf(list.Functions))
		}
		_, err = c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("img")})
		apiErr(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:img")
		got, err := c.GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("kept")})
		if err != nil {
			t.Fatal(err)
		}
		cfg := got.Configuration
		if aws.ToString(cfg.RevisionId) != aws.ToString(kept.RevisionId) || aws.ToString(cfg.CodeSha256) != aws.ToString(kept.CodeSha256) ||
			aws.ToInt32(cfg.Timeout) != 3 || cfg.PackageType != types.PackageTypeZip || cfg.ImageConfigResponse != nil {
			t.Errorf("kept changed: %s", jsonOf(cfg))
		}
		if aws.ToString(got.Code.RepositoryType) != "S3" || aws.ToString(got.Code.Location) == "" || got.Code.ImageUri != nil {
			t.Errorf("kept's code: %s", jsonOf(got.Code))
		}
		if files := codeFiles(t, f); strings.Join(files, ",") != strings.Join(filesBefore, ",") {
			t.Errorf("code files %v, were %v", files, filesBefore)
		}
	}
	checkState(f)
	f.stop()
	checkState(startFurl(t, dataDir, "127.0.0.1:0", flags...))
}
