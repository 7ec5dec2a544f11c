package urlconfig

import (
	"context"
	"testing"
)

// The not-found messages of the Invoke APIs (which all resolve through
// ResolveVersion) and of the URL config APIs, as Lambda words them: an
// unqualified invocation of a missing function names $LATEST, a qualified
// one names its qualifier, a read of the configuration names the ARN as
// given, and the URL config APIs name no ARN at all.
func TestNotFoundMessages(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	if _, err := s.CreateFunction(ctx, createIn("fn", buildZip(t, zipEntry{name: "bootstrap", content: "x", mode: 0o755}))); err != nil {
		t.Fatal(err)
	}
	const arn = "arn:aws:lambda:us-east-1:123456789012:function:"
	authNone := str(AuthTypeNone)
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"Invoke unqualified", func() error { _, err := s.ResolveVersion(ctx, "ghost", nil); return err },
			"Function not found: " + arn + "ghost:$LATEST"},
		{"Invoke unqualified by ARN", func() error { _, err := s.ResolveVersion(ctx, arn+"ghost", nil); return err },
			"Function not found: " + arn + "ghost:$LATEST"},
		{"Invoke $LATEST", func() error { _, err := s.ResolveVersion(ctx, "ghost", str("$LATEST")); return err },
			"Function not found: " + arn + "ghost:$LATEST"},
		{"Invoke a version of a missing function", func() error { _, err := s.ResolveVersion(ctx, "ghost", str("3")); return err },
			"Function not found: " + arn + "ghost:3"},
		{"Invoke a missing version", func() error { _, err := s.ResolveVersion(ctx, "fn", str("9")); return err },
			"Function not found: " + arn + "fn:9"},
		{"Invoke a missing alias in the name", func() error { _, err := s.ResolveVersion(ctx, "fn:nope", nil); return err },
			"Function not found: " + arn + "fn:nope"},
		{"GetFunction unqualified", func() error { _, _, err := s.GetFunction(ctx, "ghost", nil); return err },
			"Function not found: " + arn + "ghost"},
		{"CreateFunctionUrlConfig", func() error {
			_, err := s.CreateFunctionURLConfig(ctx, &URLConfigInput{FunctionName: "ghost", AuthType: authNone})
			return err
		}, "Function does not exist"},
		{"CreateFunctionUrlConfig on a missing alias", func() error {
			_, err := s.CreateFunctionURLConfig(ctx, &URLConfigInput{FunctionName: "fn", Qualifier: str("nope"), AuthType: authNone})
			return err
		}, "Function does not exist"},
		{"UpdateFunctionUrlConfig", func() error {
			_, err := s.UpdateFunctionURLConfig(ctx, &URLConfigInput{FunctionName: "ghost", AuthType: authNone})
			return err
		}, "Function does not exist"},
		{"UpdateFunctionUrlConfig without a config", func() error {
			_, err := s.UpdateFunctionURLConfig(ctx, &URLConfigInput{FunctionName: "fn", AuthType: authNone})
			return err
		}, "The resource you requested does not exist."},
		{"GetFunctionUrlConfig", func() error { _, err := s.GetFunctionURLConfig(ctx, "ghost", nil); return err },
			"The resource you requested does not exist."},
		{"GetFunctionUrlConfig without a config", func() error { _, err := s.GetFunctionURLConfig(ctx, "fn", nil); return err },
			"The resource you requested does not exist."},
		{"DeleteFunctionUrlConfig", func() error { return s.DeleteFunctionURLConfig(ctx, "ghost", nil) },
			"The resource you requested does not exist."},
		{"ListFunctionUrlConfigs", func() error { _, err := s.ListFunctionURLConfigs(ctx, "ghost", nil, nil); return err },
			"Function does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := AsError(tc.call())
			if !ok || e.Type != ErrNotFound || e.Message != tc.want {
				t.Fatalf("got %v; want %s: %s", e, ErrNotFound, tc.want)
			}
		})
	}
}
