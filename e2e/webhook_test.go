package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The webhook example, deployed as its README says, driven by curl as a
// webhook sender: a good signature is accepted, a wrong one refused.
func TestWebhookExample(t *testing.T) {
	source, err := os.ReadFile("../examples/webhook/index.mjs")
	if err != nil {
		t.Fatal(err)
	}
	f := startFurl(t, t.TempDir(), "127.0.0.1:0")
	c := f.client()
	const secret = "it-is-a-secret"
	if _, err := c.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String("webhook"), Runtime: types.RuntimeNodejs20x, Role: aws.String(testRole), Handler: aws.String("index.handler"),
		Code:        &types.FunctionCode{ZipFile: makeZip(t, map[string]string{"index.mjs": string(source)})},
		Environment: &types.Environment{Variables: map[string]string{"WEBHOOK_SECRET": secret}},
	}); err != nil {
		t.Fatal(err)
	}
	u := publicURL(t, c, "webhook", nil)
	body := `{"action":"opened","number":42}`
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	good := "sha256=" + hex.EncodeToString(mac.Sum(nil))

	status, _, answer := curl(t, "-H", "X-Hub-Signature-256: "+good, "-H", "X-GitHub-Delivery: 72d3162e", "-H", "Content-Type: application/json", "-d", body, u)
	if status != 200 || string(answer) != `{"received":"opened"}` {
		t.Fatalf("good signature: %d %s", status, answer)
	}
	bad := "sha256=" + hex.EncodeToString(make([]byte, 32))
	status, _, answer = curl(t, "-H", "X-Hub-Signature-256: "+bad, "-H", "Content-Type: application/json", "-d", body, u)
	if status != 401 || string(answer) != `{"error":"bad signature"}` {
		t.Fatalf("bad signature: %d %s", status, answer)
	}
	// A body the URL passes as base64 (no text content type) verifies too.
	status, _, answer = curl(t, "-H", "X-Hub-Signature-256: "+good, "-H", "Content-Type: application/octet-stream", "--data-binary", body, u)
	if status != 200 || string(answer) != `{"received":"opened"}` {
		t.Fatalf("good signature, binary body: %d %s", status, answer)
	}
	f.out.waitFor(t, "accepted delivery 72d3162e action opened", 5*time.Second)
}
