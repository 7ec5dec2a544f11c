package urlconfig

import (
	"regexp"
	"strings"
	"testing"
)

// urlIDShape is the shape of every url-id seen on AWS.
var urlIDShape = regexp.MustCompile(`^[a-z2-7]{25}[aeimquy4]0[a-z]{5}$`)

var testAccount = Account{ID: "123456789012", Region: "us-east-1"}

func TestParseFunctionName(t *testing.T) {
	tests := []struct {
		in        string
		name      string
		qualifier string
		errType   string
		errMsg    string
	}{
		{in: "orders", name: "orders"},
		{in: "orders:live", name: "orders", qualifier: "live"},
		{in: "orders:$LATEST", name: "orders", qualifier: "$LATEST"},
		{in: "123456789012:function:orders", name: "orders"},
		{in: "123456789012:function:orders:7", name: "orders", qualifier: "7"},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:orders", name: "orders"},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:orders:live", name: "orders", qualifier: "live"},
		{in: "arn:aws:lambda:eu-west-1:123456789012:function:orders", errType: ErrNotFound,
			errMsg: "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"},
		{in: "arn:aws:lambda:us-east-1:999999999999:function:orders", errType: ErrAccessDenied},
		{in: "999999999999:function:orders", errType: ErrAccessDenied},
		{in: "bad name", errType: ErrValidation,
			errMsg: "1 validation error detected: Value 'bad name' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: " + patFunctionName.Text},
		{in: "", errType: ErrValidation,
			errMsg: "1 validation error detected: Value '' at 'functionName' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{in: strings.Repeat("a", 65), errType: ErrValidation,
			errMsg: "1 validation error detected: Value '" + strings.Repeat("a", 65) + "' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64"},
		{in: strings.Repeat("a", 141), errType: ErrValidation,
			errMsg: "1 validation error detected: Value '" + strings.Repeat("a", 141) + "' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 140"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			ref, err := testAccount.parseFunctionName(tc.in, patFunctionName, 140)
			if tc.errType != "" {
				e, ok := AsError(err)
				if !ok || e.Type != tc.errType || e.Message != tc.errMsg {
					t.Fatalf("got %v, want %s: %s", err, tc.errType, tc.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if ref.Name != tc.name || ref.Qualifier != tc.qualifier {
				t.Fatalf("got %+v, want name %q qualifier %q", ref, tc.name, tc.qualifier)
			}
		})
	}
}

func TestQualifierMerging(t *testing.T) {
	q := func(s string) *string { return &s }
	tests := []struct {
		ref   funcRef
		param *string
		want  string
		err   bool
	}{
		{funcRef{Name: "f"}, nil, "", false},
		{funcRef{Name: "f"}, q("live"), "live", false},
		{funcRef{Name: "f", Qualifier: "live"}, nil, "live", false},
		{funcRef{Name: "f", Qualifier: "live"}, q("live"), "live", false},
		{funcRef{Name: "f", Qualifier: "live"}, q("1"), "", true},
	}
	for _, tc := range tests {
		got, err := tc.ref.withQualifier(tc.param)
		if (err != nil) != tc.err || (err == nil && got.Qualifier != tc.want) {
			t.Errorf("%+v with %v: got %+v, %v", tc.ref, tc.param, got, err)
		}
	}
}

func TestPatternsWithLookarounds(t *testing.T) {
	tests := []struct {
		p    pattern
		in   string
		want bool
	}{
		{patAlias, "live", true},
		{patAlias, "2024-01-02", true},
		{patAlias, "2024", false},
		{patAlias, "$LATEST", false},
		{patURLQualifier, "prod", true},
		{patURLQualifier, "1", false},
		{patURLQualifier, "$LATEST", false},
		{patS3Bucket, "my.bucket", true},
		{patS3Bucket, "my.bucket.", false},
	}
	for _, tc := range tests {
		if got := tc.p.match(tc.in); got != tc.want {
			t.Errorf("%s matches %q = %v, want %v", tc.p.Text, tc.in, got, tc.want)
		}
	}
}

func TestURLIDShape(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewURLID()
		if !urlIDShape.MatchString(id) {
			t.Fatalf("url-id %q does not look like AWS's", id)
		}
		if seen[id] {
			t.Fatalf("url-id %q repeated", id)
		}
		seen[id] = true
	}
}

func FuzzParseFunctionName(f *testing.F) {
	for _, s := range []string{"orders", "orders:live", "123456789012:function:o:1", "arn:aws:lambda:us-east-1:123456789012:function:o",
		"arn:aws:lambda:us-east-1:123456789012:function:o:$LATEST", "a:b:c:d:e", "arn:aws:lambda:::function:", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := testAccount.parseFunctionName(s, patNamespacedFunctionName, 256)
		if err != nil {
			if _, ok := AsError(err); !ok {
				t.Fatalf("non-API error %v", err)
			}
			return
		}
		if ref.Name == "" || len(ref.Name) > maxFunctionNameLen || strings.Contains(ref.Name, ":") || strings.Contains(ref.Qualifier, ":") {
			t.Fatalf("%q parsed to %+v", s, ref)
		}
	})
}

// Every pattern compiles: they compile on first use, so a bad one would
// otherwise surface only when a request reached it.
func TestLazyPatternsCompile(t *testing.T) {
	if len(lazyRegexps) < 25 {
		t.Fatalf("%d lazily compiled patterns registered, want the model's 25 and more", len(lazyRegexps))
	}
	for i, re := range lazyRegexps {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("pattern %d does not compile: %v", i, r)
				}
			}()
			re()
		}()
	}
}
