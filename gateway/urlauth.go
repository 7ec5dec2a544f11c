package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
//
// An allowed target is remembered: resolved targets are shared until the
// next write to the store, which resolves new ones, so the same target
// has the same policy and the same answer. A refusal is evaluated (and
// logged) every time.
func (s *Server) authorizeURL(ctx context.Context, t *urlconfig.URLTarget) bool {
	if s.urlPermissions == PermissionsOpen {
		return true
	}
	if v, ok := s.allowedURLs.Load(t.URLID); ok && v.(*urlconfig.URLTarget) == t {
		return true
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
		s.allowedURLs.Store(t.URLID, t)
		return true
	}
	s.allowedURLs.Delete(t.URLID)
	log := loggerFrom(ctx)
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
	if invokeCheck.Decision == authz.ImplicitDeny {
		attrs = append(attrs, "older_cli", "--invoked-via-function-url needs AWS CLI v2.31+ or a current v1; with an older CLI, run furl with --url-permissions=legacy")
	}
	log.Warn("function URL request refused (403)", attrs...)
	return false
}

// sigError answers a request whose signature furl refused, in AWS's shape:
// an unsigned request to a URL is a plain 403 Forbidden; the rest name
// their error type.
func writeSigError(w http.ResponseWriter, e *authz.SigError, url bool) {
	if e.Code == authz.CodeMissingAuth {
		if url {
			writeURLError(w, http.StatusForbidden, "AccessDeniedException", forbidden)
			return
		}
		writeURLError(w, http.StatusForbidden, "MissingAuthenticationTokenException", `{"message":"Missing Authentication Token"}`)
		return
	}
	body, _ := json.Marshal(map[string]string{"message": e.Message})
	status := http.StatusForbidden
	if e.Code == authz.CodeIncompleteSignature && !url {
		status = http.StatusBadRequest
	}
	writeURLError(w, status, e.Code, string(body))
}

// authorizeIAM decides whether a signed caller may invoke an AWS_IAM URL:
// lambda:InvokeFunctionUrl (with lambda:FunctionUrlAuthType AWS_IAM) and,
// under --url-permissions=aws, lambda:InvokeFunction through a URL, each
// allowed as IAM allows it (identity or resource policy in the function's
// account; both from another account). A refusal is logged with why.
func (s *Server) authorizeIAM(ctx context.Context, t *urlconfig.URLTarget, id *authz.Identity) bool {
	if s.urlPermissions == PermissionsOpen {
		return true
	}
	account := s.store.Account().ID
	checks := []authz.Request{{
		Action: "lambda:InvokeFunctionUrl", Resource: t.ARN,
		Context: map[string][]string{"lambda:FunctionUrlAuthType": {urlconfig.AuthTypeAWSIAM}, "lambda:FunctionArn": {t.ARN}},
	}}
	if s.urlPermissions == PermissionsAWS {
		checks = append(checks, authz.Request{
			Action: "lambda:InvokeFunction", Resource: t.ARN,
			Context: map[string][]string{"lambda:InvokedViaFunctionUrl": {"true"}, "lambda:FunctionArn": {t.ARN}},
		})
	}
	var why []string
	for _, req := range checks {
		if v := authz.Authorize(id, account, t.Policy, req); v.Decision != authz.Allow {
			why = append(why, v.Why)
		}
	}
	if len(why) == 0 {
		return true
	}
	loggerFrom(ctx).Warn("function URL request refused (403)", "function", t.FunctionName, "caller", id.ARN, "why", strings.Join(why, "; "))
	return false
}
