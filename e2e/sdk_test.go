package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// The SDKs find furl through AWS_ENDPOINT_URL_LAMBDA, with no code change.
func TestEndpointFromEnvironment(t *testing.T) {
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	createFunction(t, f.client(), "from-env")
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", "http://"+f.addr)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_DEFAULT_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)

	t.Run("Go SDK v2", func(t *testing.T) {
		cfg, err := config.LoadDefaultConfig(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		out, err := lambda.NewFromConfig(cfg).GetFunction(ctx(t), &lambda.GetFunctionInput{FunctionName: aws.String("from-env")})
		if err != nil {
			t.Fatalf("GetFunction through AWS_ENDPOINT_URL_LAMBDA: %v", err)
		}
		if aws.ToString(out.Configuration.FunctionName) != "from-env" {
			t.Fatalf("got %s", jsonOf(out.Configuration))
		}
	})

	// boto3, when this machine's Python has it, as a second SDK.
	t.Run("boto3", func(t *testing.T) {
		if exec.Command("python3", "-c", "import boto3").Run() != nil {
			t.Skip("python3 has no boto3")
		}
		script := `
import boto3, io, json, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("app.py", "def handler(event, context):\n    return 1\n")
c = boto3.client("lambda")
c.create_function(FunctionName="py", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/r",
    Handler="app.handler", Code={"ZipFile": buf.getvalue()})
u = c.create_function_url_config(FunctionName="py", AuthType="NONE")
names = sorted(f["FunctionName"] for f in c.list_functions()["Functions"])
try:
    c.get_function(FunctionName="ghost")
    missing = "found"
except c.exceptions.ResourceNotFoundException as e:
    missing = e.response["Error"]["Message"]
print(json.dumps({"url": u["FunctionUrl"], "names": names, "missing": missing}))
`
		out, err := exec.Command("python3", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("boto3: %v\n%s", err, out)
		}
		s := string(out)
		for _, want := range []string{`"names": ["from-env", "py"]`, `.lambda-url.us-east-1.localhost:`, `"missing": "Function not found: arn:aws:lambda:us-east-1:000000000000:function:ghost"`} {
			if !strings.Contains(s, want) {
				t.Fatalf("boto3 printed %s, missing %s", s, want)
			}
		}
	})
}
