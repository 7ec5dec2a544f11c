package gateway

import (
	"context"
	"fmt"
	"strings"

	"github.com/furl-dev/furl/authz"
	"github.com/furl-dev/furl/urlconfig"
)

// URL permission models, chosen with --url-permissions.
const (
	// PermissionsAWS requires what AWS requires since October 2025: a
	// statement allowing lambda:InvokeFunctionUrl and one allowing
	// lambda:InvokeFunction when invoked through a function URL.
	PermissionsAWS = "aws"
	// PermissionsLegacy requires only lambda:InvokeFunctionUrl, as before.
	PermissionsLegacy = "legacy"
	// PermissionsOpen checks nothing.
	PermissionsOpen = "open"
)

// authorizeURL decides whether the function's resource policy lets an
// anonymous caller invoke a NONE URL. A refusal is logged with what is
// missing and the command that would add it: it is the most common reason
// a function URL answers 403.
func (s *Server) authorizeURL(ctx context.Context, t *urlconfig.URLTarget) bool {
	log := loggerFrom(ctx)
	if s.urlPermissions == PermissionsOpen {
		return true
	}
	if t.AuthType == urlconfig.AuthTypeAWSIAM {
		log.Warn("refused a request to an AWS_IAM function URL: furl does not verify SigV4 signatures yet",
			"function", t.FunctionName, "qualifier", t.Qualifier)
		return false
	}
	anon := authz.Principal{Anonymous: true}
	urlCheck := authz.Evaluate(t.Policy, authz.Request{
		Principal: anon, Action: "lambda:InvokeFunctionUrl", Resource: t.ARN,
		Context: map[string][]string{"lambda:FunctionUrlAuthType": {urlconfig.AuthTypeNone}, "lambda:FunctionArn": {t.ARN}},
	})
	invokeCheck := authz.Result{Decision: authz.Allow}
	if s.urlPermissions == PermissionsAWS {
		invokeCheck = authz.Evaluate(t.Policy, authz.Request{
			Principal: anon, Action: "lambda:InvokeFunction", Resource: t.ARN,
			Context: map[string][]string{"lambda:InvokedViaFunctionUrl": {"true"}, "lambda:FunctionArn": {t.ARN}},
		})
	}
	if urlCheck.Decision == authz.Allow && invokeCheck.Decision == authz.Allow {
		return true
	}
	var why, fixes []string
	target := t.FunctionName
	qualifier := ""
	if t.Qualifier != "" {
		target += " (alias " + t.Qualifier + ")"
		qualifier = " --qualifier " + t.Qualifier
	}
	base := fmt.Sprintf("aws --endpoint-url %s lambda add-permission --function-name %s%s --principal '*'", s.apiEndpoint, t.FunctionName, qualifier)
	switch urlCheck.Decision {
	case authz.ExplicitDeny:
		why = append(why, fmt.Sprintf("statement %q of the resource policy of %s denies lambda:InvokeFunctionUrl", urlCheck.Statement, target))
	case authz.ImplicitDeny:
		why = append(why, fmt.Sprintf("no statement of the resource policy of %s allows lambda:InvokeFunctionUrl to everyone (\"*\") with lambda:FunctionUrlAuthType NONE", target))
		fixes = append(fixes, base+" --statement-id FunctionURLAllowPublicAccess --action lambda:InvokeFunctionUrl --function-url-auth-type NONE")
	}
	switch invokeCheck.Decision {
	case authz.ExplicitDeny:
		why = append(why, fmt.Sprintf("statement %q of the resource policy of %s denies lambda:InvokeFunction", invokeCheck.Statement, target))
	case authz.ImplicitDeny:
		why = append(why, fmt.Sprintf("no statement of the resource policy of %s allows lambda:InvokeFunction to everyone (\"*\") when invoked through a function URL (lambda:InvokedViaFunctionUrl), which AWS requires since October 2025 (furl --url-permissions=legacy does not)", target))
		fixes = append(fixes, base+" --statement-id FunctionURLInvokeAllowPublicAccess --action lambda:InvokeFunction --invoked-via-function-url")
	}
	attrs := []any{"function", t.FunctionName, "why", strings.Join(why, "; ")}
	if len(fixes) > 0 {
		attrs = append(attrs, "fix", strings.Join(fixes, " && "))
	}
	log.Warn("function URL request refused (403)", attrs...)
	return false
}
