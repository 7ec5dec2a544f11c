package authz

import (
	"testing"
)

const fnARN = "arn:aws:lambda:us-east-1:000000000000:function:web"

func mustPolicy(t testing.TB, doc string) *Policy {
	t.Helper()
	p, err := ParsePolicy([]byte(doc))
	if err != nil {
		t.Fatalf("ParsePolicy: %v", err)
	}
	return p
}

var anonymous = Principal{Anonymous: true}

func urlRequest(action string, ctx map[string][]string) Request {
	return Request{Principal: anonymous, Action: action, Resource: fnARN, Context: ctx}
}

func TestEvaluate(t *testing.T) {
	urlPermission := `{"Sid":"url","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"` + fnARN + `","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"NONE"}}}`
	invokePermission := `{"Sid":"invoke","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Resource":"` + fnARN + `","Condition":{"Bool":{"lambda:InvokedViaFunctionUrl":"true"}}}`
	noneURL := map[string][]string{"lambda:FunctionUrlAuthType": {"NONE"}, "lambda:FunctionArn": {fnARN}}
	viaURL := map[string][]string{"lambda:InvokedViaFunctionUrl": {"true"}}
	user := Principal{ARN: "arn:aws:iam::000000000000:user/alice", Account: "000000000000"}
	session := Principal{ARN: "arn:aws:sts::111122223333:assumed-role/deployer/build-7", Account: "111122223333"}
	tests := []struct {
		name   string
		policy string
		req    Request
		want   Decision
		sid    string
	}{
		{"URL statement, NONE URL", `[` + urlPermission + `]`, urlRequest("lambda:InvokeFunctionUrl", noneURL), Allow, "url"},
		{"URL statement, IAM URL", `[` + urlPermission + `]`, urlRequest("lambda:InvokeFunctionUrl", map[string][]string{"lambda:FunctionUrlAuthType": {"AWS_IAM"}}), ImplicitDeny, ""},
		{"URL statement, condition key missing", `[` + urlPermission + `]`, urlRequest("lambda:InvokeFunctionUrl", nil), ImplicitDeny, ""},
		{"URL statement does not allow InvokeFunction", `[` + urlPermission + `]`, urlRequest("lambda:InvokeFunction", viaURL), ImplicitDeny, ""},
		{"invoke statement via URL", `[` + urlPermission + "," + invokePermission + `]`, urlRequest("lambda:InvokeFunction", viaURL), Allow, "invoke"},
		{"invoke statement not via URL", `[` + invokePermission + `]`, urlRequest("lambda:InvokeFunction", map[string][]string{"lambda:InvokedViaFunctionUrl": {"false"}}), ImplicitDeny, ""},
		{"Bool is case-insensitive", `[` + invokePermission + `]`, urlRequest("lambda:InvokeFunction", map[string][]string{"lambda:invokedviafunctionurl": {"TRUE"}}), Allow, "invoke"},
		{"explicit deny wins", `[` + urlPermission + `,{"Sid":"no","Effect":"Deny","Principal":"*","Action":"lambda:*","Resource":"*"}]`, urlRequest("lambda:InvokeFunctionUrl", noneURL), ExplicitDeny, "no"},
		{"action wildcard", `[{"Effect":"Allow","Principal":"*","Action":"lambda:Invoke*","Resource":"` + fnARN + `"}]`, urlRequest("lambda:InvokeFunctionUrl", nil), Allow, ""},
		{"action is case-insensitive", `[{"Effect":"Allow","Principal":"*","Action":"LAMBDA:invokefunctionurl","Resource":"` + fnARN + `"}]`, urlRequest("lambda:InvokeFunctionUrl", nil), Allow, ""},
		{"NotAction", `[{"Effect":"Allow","Principal":"*","NotAction":"lambda:InvokeFunction","Resource":"*"}]`, urlRequest("lambda:InvokeFunctionUrl", nil), Allow, ""},
		{"resource of an alias does not cover the function", `[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"` + fnARN + `:live"}]`, urlRequest("lambda:InvokeFunctionUrl", nil), ImplicitDeny, ""},
		{"resource wildcard covers qualifiers", `[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"` + fnARN + `:*"}]`, Request{Principal: anonymous, Action: "lambda:InvokeFunction", Resource: fnARN + ":live"}, Allow, ""},
		{"account principal excludes anonymous", `[{"Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":"*","Resource":"*"}]`, urlRequest("lambda:InvokeFunctionUrl", nil), ImplicitDeny, ""},
		{"account principal includes its users", `[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"*","Resource":"*"}]`, Request{Principal: user, Action: "lambda:InvokeFunctionUrl", Resource: fnARN}, Allow, ""},
		{"AWS * includes anonymous", `[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*","Resource":"*"}]`, urlRequest("lambda:InvokeFunctionUrl", nil), Allow, ""},
		{"role principal includes its sessions", `[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:role/deployer"]},"Action":"*","Resource":"*"}]`, Request{Principal: session, Action: "lambda:InvokeFunctionUrl", Resource: fnARN}, Allow, ""},
		{"other role excluded", `[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/other"},"Action":"*","Resource":"*"}]`, Request{Principal: session, Action: "lambda:InvokeFunctionUrl", Resource: fnARN}, ImplicitDeny, ""},
		{"service principal", `[{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"*","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::uploads*"},"StringEquals":{"AWS:SourceAccount":"123456789012"}}}]`,
			Request{Principal: Principal{Service: "s3.amazonaws.com"}, Action: "lambda:InvokeFunction", Resource: fnARN, Context: map[string][]string{"aws:SourceArn": {"arn:aws:s3:::uploads-2026"}, "aws:SourceAccount": {"123456789012"}}}, Allow, ""},
		{"ArnLike mismatch", `[{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"*","Resource":"*","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::uploads"}}}]`,
			Request{Principal: Principal{Service: "s3.amazonaws.com"}, Action: "lambda:InvokeFunction", Resource: fnARN, Context: map[string][]string{"aws:SourceArn": {"arn:aws:s3:::other"}}}, ImplicitDeny, ""},
		{"StringLike", `[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:PrincipalOrgID":"o-abc*"}}}]`, Request{Principal: user, Action: "x", Resource: "y", Context: map[string][]string{"aws:PrincipalOrgID": {"o-abcdefghij"}}}, Allow, ""},
		{"StringNotEquals with key missing", `[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-abcdefghij"}}}]`, urlRequest("x", nil), ExplicitDeny, ""},
		{"IfExists with key missing", `[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-abcdefghij"}}}]`, urlRequest("x", nil), Allow, ""},
		{"Null", `[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"Null":{"aws:PrincipalOrgID":"true"}}}]`, urlRequest("x", nil), Allow, ""},
		{"unknown operator fails closed", `[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"DateMagic":{"aws:CurrentTime":"x"}}}]`, urlRequest("x", map[string][]string{"aws:CurrentTime": {"x"}}), ImplicitDeny, ""},
		{"NotPrincipal", `[{"Effect":"Deny","NotPrincipal":{"AWS":"000000000000"},"Action":"*","Resource":"*"}]`, Request{Principal: session, Action: "x", Resource: "y"}, ExplicitDeny, ""},
		{"identity policy has no principal", `[{"Effect":"Allow","Action":"lambda:InvokeFunctionUrl","Resource":"arn:aws:lambda:*:*:function:*"}]`, Request{Principal: user, Action: "lambda:InvokeFunctionUrl", Resource: fnARN}, Allow, ""},
		{"single statement object", `{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`, urlRequest("x", nil), Allow, ""},
		{"ForAllValues with the key missing", `[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}}}]`, urlRequest("x", nil), Allow, ""},
		{"ForAnyValue negated with the key missing", `[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a"]}}}]`, urlRequest("x", nil), ImplicitDeny, ""},
		{"ForAnyValue", `[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}}]`, urlRequest("x", map[string][]string{"aws:TagKeys": {"c", "b"}}), Allow, ""},
		{"ForAllValues with a stranger", `[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}}]`, urlRequest("x", map[string][]string{"aws:TagKeys": {"a", "c"}}), ImplicitDeny, ""},
		{"role with a path includes its sessions", `[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/team/deployer"},"Action":"*","Resource":"*"}]`, Request{Principal: session, Action: "x", Resource: "y"}, Allow, ""},
		{"NumericLessThan", `[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"10"}}}]`, urlRequest("x", map[string][]string{"s3:max-keys": {"9"}}), Allow, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPolicy(t, `{"Version":"2012-10-17","Statement":`+tc.policy+`}`)
			got := Evaluate(p, tc.req)
			if got.Decision != tc.want || got.Statement != tc.sid {
				t.Fatalf("got %v (%q), want %v (%q)", got.Decision, got.Statement, tc.want, tc.sid)
			}
		})
	}
	if Evaluate(nil, urlRequest("x", nil)).Decision != ImplicitDeny {
		t.Fatal("a missing policy allowed something")
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"a*", "abc", true}, {"a*c", "abbbc", true}, {"a?c", "abc", true}, {"a?c", "ac", false},
		{"*:function:web", "arn:aws:lambda:us-east-1:000000000000:function:web", true}, {"arn:*:web:*", "arn:x:web", false},
		{"a[b]", "a[b]", true}, {"a/b*", "a/b/c", true},
	} {
		if got := glob(tc.p, tc.s, false); got != tc.want {
			t.Errorf("glob(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

func TestParsePolicyRefusesNonsense(t *testing.T) {
	for _, doc := range []string{`{`, `{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"bob","Action":"*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Action":3,"Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"k":{"x":1}}}}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":[],"Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*"}]}`,
		`{"Statement":[{"effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Conditon":{"Bool":{"k":"true"}}}]}`,
		`{"Statment":[]}`} {
		if _, err := ParsePolicy([]byte(doc)); err == nil {
			t.Errorf("%s parsed", doc)
		}
	}
}

func FuzzEvaluate(f *testing.F) {
	f.Add(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"lambda:*","Resource":"*","Condition":{"StringEquals":{"k":"v"}}}]}`, "lambda:InvokeFunctionUrl", fnARN)
	f.Add(`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["1"]},"NotAction":"*a?","NotResource":["x"]}}`, "a", "b")
	f.Fuzz(func(t *testing.T, doc, action, resource string) {
		p, err := ParsePolicy([]byte(doc))
		if err != nil {
			return
		}
		Evaluate(p, Request{Principal: anonymous, Action: action, Resource: resource, Context: map[string][]string{"k": {"v"}}})
	})
}
