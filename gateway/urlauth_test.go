package gateway

import (
	"context"
	"log/slog"
	"testing"

	"github.com/furl-dev/furl/authz"
	"github.com/furl-dev/furl/urlconfig"
)

// An allowed URL is remembered for the target it was resolved as; a new
// target (the store was written: the policy may have changed) is decided
// again, and a refusal is never remembered.
func TestAuthorizeURLDecidesAgainForANewTarget(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler), urlPermissions: PermissionsAWS}
	const arn = "arn:aws:lambda:us-east-1:000000000000:function:f"
	public, err := authz.ParsePolicy([]byte(`{"Version":"2012-10-17","Statement":[
		{"Sid":"url","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"` + arn + `","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"NONE"}}},
		{"Sid":"invoke","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Resource":"` + arn + `","Condition":{"Bool":{"lambda:InvokedViaFunctionUrl":"true"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	open := &urlconfig.URLTarget{URLID: "u1", FunctionName: "f", ARN: arn, Policy: public}
	for i := range 2 {
		if !s.authorizeURL(context.Background(), open) {
			t.Fatalf("call %d: a public URL was refused", i)
		}
	}
	revoked := &urlconfig.URLTarget{URLID: "u1", FunctionName: "f", ARN: arn}
	if s.authorizeURL(context.Background(), revoked) {
		t.Fatal("a URL whose policy was removed is still allowed")
	}
	if !s.authorizeURL(context.Background(), open) {
		t.Fatal("the public target was refused after a refusal of another")
	}
	other := &urlconfig.URLTarget{URLID: "u2", FunctionName: "f", ARN: arn}
	if s.authorizeURL(context.Background(), other) {
		t.Fatal("another URL without a policy was allowed")
	}
}
