package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/furl-dev/furl/authz"
	"github.com/furl-dev/furl/urlconfig"
)

// With --verify-api-signatures every Lambda API operation is an IAM action
// on a resource, decided by authz.Authorize with the caller's own policies
// and the resource policy of the function (or of the version or alias)
// that the request names.
//
// The resource is the function's ARN, qualified when the request names a
// version or alias (in FunctionName or the Qualifier parameter of the
// operations that take one), as Lambda compares it: a statement on
// function:f allows requests for f but not for f:1 or f:prod; one on
// function:f:* allows every version and alias but not f itself; one on
// function:f* allows both. Operations that act on the function as a whole
// (aliases, versions, concurrency, code and configuration) use its
// unqualified ARN, and ListFunctions and GetAccountSettings act on "*".

// resourceOf says where an operation's resource comes from.
type resourceOf int

const (
	// onAccount: the action names no resource ("*").
	onAccount resourceOf = iota
	// onFunction: the function {FunctionName} names, qualified by the
	// version or alias it (or the Qualifier parameter) names.
	onFunction
	// onTagged: the function ARN {Resource} names.
	onTagged
	// onNewFunction: the function the body's FunctionName names.
	onNewFunction
)

// apiAccess is what an operation asks of IAM.
type apiAccess struct {
	action string
	on     resourceOf
	// qualifier: the operation takes a Qualifier parameter, which
	// qualifies its resource. Only those: a Qualifier sent to another
	// operation, which ignores it, must not change what is authorized.
	qualifier bool
	// byHandler: the body holds the resource or condition keys, so the
	// handler authorizes (authorizeBody) once it has read it.
	byHandler bool
	// targetKeys are condition keys of the resource, some read from the
	// account's state.
	targetKeys func(ctx context.Context, s *Server, r *http.Request, t *apiTarget) map[string][]string
}

// apiAccessByOperation is the IAM action and resource of each operation,
// keyed by AWS's operation name.
var apiAccessByOperation = map[string]apiAccess{
	"CreateFunction": {action: "lambda:CreateFunction", on: onNewFunction, byHandler: true},
	"ListFunctions":  {action: "lambda:ListFunctions", on: onAccount},
	// furl's own: every function's events (their log lines), which a
	// caller may read only if it may read every function.
	"GetEveryFunctionsEvents":     {action: "lambda:GetFunction", on: onAccount},
	"GetAccountSettings":          {action: "lambda:GetAccountSettings", on: onAccount},
	"GetFunction":                 {action: "lambda:GetFunction", on: onFunction, qualifier: true},
	"GetFunctionConfiguration":    {action: "lambda:GetFunctionConfiguration", on: onFunction, qualifier: true},
	"DeleteFunction":              {action: "lambda:DeleteFunction", on: onFunction, qualifier: true},
	"UpdateFunctionConfiguration": {action: "lambda:UpdateFunctionConfiguration", on: onFunction},
	"UpdateFunctionCode":          {action: "lambda:UpdateFunctionCode", on: onFunction},
	"Invoke":                      {action: "lambda:InvokeFunction", on: onFunction, qualifier: true},
	"InvokeWithResponseStream":    {action: "lambda:InvokeFunction", on: onFunction, qualifier: true},
	"PublishVersion":              {action: "lambda:PublishVersion", on: onFunction},
	"ListVersionsByFunction":      {action: "lambda:ListVersionsByFunction", on: onFunction},
	"CreateAlias":                 {action: "lambda:CreateAlias", on: onFunction},
	"ListAliases":                 {action: "lambda:ListAliases", on: onFunction},
	"GetAlias":                    {action: "lambda:GetAlias", on: onFunction},
	"UpdateAlias":                 {action: "lambda:UpdateAlias", on: onFunction},
	"DeleteAlias":                 {action: "lambda:DeleteAlias", on: onFunction},
	"AddPermission":               {action: "lambda:AddPermission", on: onFunction, qualifier: true, byHandler: true},
	"GetPolicy":                   {action: "lambda:GetPolicy", on: onFunction, qualifier: true},
	"RemovePermission":            {action: "lambda:RemovePermission", on: onFunction, qualifier: true, targetKeys: statementKeys},
	"CreateFunctionUrlConfig":     {action: "lambda:CreateFunctionUrlConfig", on: onFunction, qualifier: true, byHandler: true, targetKeys: functionARNKey},
	"GetFunctionUrlConfig":        {action: "lambda:GetFunctionUrlConfig", on: onFunction, qualifier: true, targetKeys: storedURLKeys},
	"UpdateFunctionUrlConfig":     {action: "lambda:UpdateFunctionUrlConfig", on: onFunction, qualifier: true, byHandler: true, targetKeys: functionARNKey},
	"DeleteFunctionUrlConfig":     {action: "lambda:DeleteFunctionUrlConfig", on: onFunction, qualifier: true, targetKeys: storedURLKeys},
	"ListFunctionUrlConfigs":      {action: "lambda:ListFunctionUrlConfigs", on: onFunction},
	"PutFunctionConcurrency":      {action: "lambda:PutFunctionConcurrency", on: onFunction},
	"GetFunctionConcurrency":      {action: "lambda:GetFunctionConcurrency", on: onFunction},
	"DeleteFunctionConcurrency":   {action: "lambda:DeleteFunctionConcurrency", on: onFunction},
	"TagResource":                 {action: "lambda:TagResource", on: onTagged},
	"UntagResource":               {action: "lambda:UntagResource", on: onTagged},
	"ListTags":                    {action: "lambda:ListTags", on: onTagged},
	// The settings furl answers with AWS's defaults (defaults.go).
	"GetFunctionCodeSigningConfig": {action: "lambda:GetFunctionCodeSigningConfig", on: onFunction},
	"GetRuntimeManagementConfig":   {action: "lambda:GetRuntimeManagementConfig", on: onFunction, qualifier: true},
	"GetFunctionRecursionConfig":   {action: "lambda:GetFunctionRecursionConfig", on: onFunction},
	// The event invoke config operations.
	"PutFunctionEventInvokeConfig":    {action: "lambda:PutFunctionEventInvokeConfig", on: onFunction, qualifier: true},
	"GetFunctionEventInvokeConfig":    {action: "lambda:GetFunctionEventInvokeConfig", on: onFunction, qualifier: true},
	"UpdateFunctionEventInvokeConfig": {action: "lambda:UpdateFunctionEventInvokeConfig", on: onFunction, qualifier: true},
	"DeleteFunctionEventInvokeConfig": {action: "lambda:DeleteFunctionEventInvokeConfig", on: onFunction, qualifier: true},
	"ListFunctionEventInvokeConfigs":  {action: "lambda:ListFunctionEventInvokeConfigs", on: onFunction},

	// Layers: furl checks the identity's policy against the account
	// ("*"); layer version policies grant other accounts, which furl
	// does not emulate.
	"PublishLayerVersion":          {action: "lambda:PublishLayerVersion", on: onAccount},
	"ListLayerVersions":            {action: "lambda:ListLayerVersions", on: onAccount},
	"GetLayerVersion":              {action: "lambda:GetLayerVersion", on: onAccount},
	"DeleteLayerVersion":           {action: "lambda:DeleteLayerVersion", on: onAccount},
	"ListLayers":                   {action: "lambda:ListLayers", on: onAccount, byHandler: true},
	"GetLayerVersionByArn":         {action: "lambda:GetLayerVersion", on: onAccount, byHandler: true},
	"AddLayerVersionPermission":    {action: "lambda:AddLayerVersionPermission", on: onAccount},
	"GetLayerVersionPolicy":        {action: "lambda:GetLayerVersionPolicy", on: onAccount},
	"RemoveLayerVersionPermission": {action: "lambda:RemoveLayerVersionPermission", on: onAccount},
}

// apiTarget is the resource a request names, as IAM sees it.
type apiTarget struct {
	// arn is the resource: a function's ARN, qualified or not, or "*".
	arn string
	// policy is the resource policy that governs it; nil for none.
	policy *authz.Policy
}

// callerFrom is the verified caller of an API request; nil when
// signatures are not verified.
func callerFrom(ctx context.Context) *authz.Identity {
	if ri, ok := ctx.Value(requestKey{}).(*requestInfo); ok {
		return ri.caller
	}
	return nil
}

// authorized runs h only if the caller may run the operation op.
func (s *Server) authorized(op string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.authorizeOperation(r, op); err != nil {
			writeError(w, loggerFrom(r.Context()).With("op", op), err)
			return
		}
		h(w, r)
	}
}

// authorizeOperation decides, before the operation reads its body,
// whether the caller may run it. Operations whose body names their
// resource or condition keys are left to authorizeBody. An operation with
// no rule is refused: nothing runs unauthorized by omission.
func (s *Server) authorizeOperation(r *http.Request, op string) error {
	caller := callerFrom(r.Context())
	if caller == nil {
		return nil
	}
	access, ok := apiAccessByOperation[op]
	if !ok {
		loggerFrom(r.Context()).Error("Lambda API request refused (403): furl has no authorization rule for the operation", "op", op, "caller", caller.ARN)
		return accessDenied(caller.ARN, "lambda:"+op, "*", authz.Verdict{Decision: authz.ImplicitDeny, By: authz.IdentityBased})
	}
	if access.byHandler {
		return nil
	}
	return s.decide(r, caller, op, access, r.PathValue("FunctionName"), nil)
}

// authorizeBody decides whether the caller may run an operation whose
// body its handler has read: name is the function the request names, and
// keys the condition keys the body gives.
func (s *Server) authorizeBody(r *http.Request, op, name string, keys map[string][]string) error {
	caller := callerFrom(r.Context())
	if caller == nil {
		return nil
	}
	access, ok := apiAccessByOperation[op]
	if !ok || !access.byHandler {
		return fmt.Errorf("authorize %s: the operation is not authorized by its handler", op)
	}
	return s.decide(r, caller, op, access, name, keys)
}

// decide evaluates the caller's request for the operation and answers
// AWS's AccessDeniedException when IAM would refuse it, logging which
// grant is missing.
func (s *Server) decide(r *http.Request, caller *authz.Identity, op string, access apiAccess, name string, keys map[string][]string) error {
	ctx := r.Context()
	t, err := s.apiTarget(ctx, r, access, name)
	if err != nil {
		return err
	}
	cond := principalKeys(caller)
	if access.targetKeys != nil {
		for k, v := range access.targetKeys(ctx, s, r, t) {
			cond[k] = v
		}
	}
	for k, v := range keys {
		cond[k] = v
	}
	req := authz.Request{Action: access.action, Resource: t.arn, Context: cond}
	v := authz.Authorize(caller, s.store.Account().ID, t.policy, req)
	if v.Decision == authz.Allow {
		return nil
	}
	loggerFrom(ctx).Warn("Lambda API request refused (403)", "op", op, "caller", caller.ARN,
		"action", access.action, "resource", t.arn, "why", v.Why)
	return accessDenied(caller.ARN, access.action, t.arn, v)
}

// apiTarget finds the resource of a request and its resource policy.
func (s *Server) apiTarget(ctx context.Context, r *http.Request, access apiAccess, name string) (*apiTarget, error) {
	switch access.on {
	case onAccount:
		return &apiTarget{arn: "*"}, nil
	case onTagged:
		name = r.PathValue("Resource")
	}
	var qualifier *string
	if access.qualifier {
		qualifier = query(r, "Qualifier")
	}
	account := s.store.Account()
	fn, q, err := account.ParseFunctionName(name)
	if err != nil {
		// A name no operation accepts (or an ARN of another account):
		// the operation refuses it, but only once the caller may ask.
		arn := name
		if !strings.HasPrefix(name, "arn:") {
			arn = account.FunctionARN(name)
		}
		if qualifier != nil {
			arn += ":" + *qualifier
		}
		return &apiTarget{arn: arn}, nil
	}
	if q == "" && qualifier != nil {
		// When both are given and differ, the operation refuses the
		// request; the name's own qualifier is what is authorized.
		q = *qualifier
	}
	t := &apiTarget{arn: account.QualifiedARN(fn, q)}
	if access.on == onNewFunction {
		return t, nil // no function yet, so no resource policy
	}
	if t.policy, err = s.store.ResourcePolicy(ctx, fn, q); err != nil {
		return nil, fmt.Errorf("read the resource policy of %s: %w", t.arn, err)
	}
	return t, nil
}

// principalKeys are the global condition keys of the caller. For an
// assumed-role session aws:PrincipalArn is its role's ARN, as IAM gives
// it (without the role's path, which the session's ARN does not carry).
func principalKeys(caller *authz.Identity) map[string][]string {
	arn := caller.ARN
	if rest, ok := strings.CutPrefix(arn, "arn:aws:sts::"+caller.Account+":assumed-role/"); ok {
		role, _, _ := strings.Cut(rest, "/")
		arn = "arn:aws:iam::" + caller.Account + ":role/" + role
	}
	return map[string][]string{"aws:PrincipalArn": {arn}, "aws:PrincipalAccount": {caller.Account}}
}

// authorizeURLConfig authorizes CreateFunctionUrlConfig and
// UpdateFunctionUrlConfig: lambda:FunctionUrlAuthType is the auth type the
// body asks for or, when an update leaves it, the URL's own.
func (s *Server) authorizeURLConfig(r *http.Request, op string, authType *string) error {
	if callerFrom(r.Context()) == nil {
		return nil
	}
	at := ""
	if authType != nil {
		at = *authType
	} else {
		at = s.storedURLAuthType(r.Context(), r)
	}
	var keys map[string][]string
	if at != "" {
		keys = map[string][]string{"lambda:FunctionUrlAuthType": {at}}
	}
	return s.authorizeBody(r, op, r.PathValue("FunctionName"), keys)
}

// functionARNKey is lambda:FunctionArn, which the function URL operations
// define: the function's ARN, as the request qualifies it.
func functionARNKey(_ context.Context, _ *Server, _ *http.Request, t *apiTarget) map[string][]string {
	return map[string][]string{"lambda:FunctionArn": {t.arn}}
}

// storedURLKeys are the condition keys of an operation on an existing
// function URL: the function's ARN and the URL's stored auth type.
func storedURLKeys(ctx context.Context, s *Server, r *http.Request, t *apiTarget) map[string][]string {
	keys := functionARNKey(ctx, s, r, t)
	if at := s.storedURLAuthType(ctx, r); at != "" {
		keys["lambda:FunctionUrlAuthType"] = []string{at}
	}
	return keys
}

// storedURLAuthType is the auth type of the URL a request names, "" when
// there is none.
func (s *Server) storedURLAuthType(ctx context.Context, r *http.Request) string {
	u, err := s.store.GetFunctionURLConfig(ctx, r.PathValue("FunctionName"), query(r, "Qualifier"))
	if err != nil {
		return ""
	}
	return u.AuthType
}

// statementKeys are RemovePermission's condition keys: the principal and
// the URL auth type of the statement it removes. An account stored as its
// root ARN is given as its id too, as AddPermission's Principal names it.
func statementKeys(_ context.Context, _ *Server, r *http.Request, t *apiTarget) map[string][]string {
	if t.policy == nil {
		return nil
	}
	sid := r.PathValue("StatementId")
	for _, st := range t.policy.Statement {
		if st.Sid != sid {
			continue
		}
		keys := map[string][]string{}
		if p := st.Principal; p != nil {
			var principals []string
			if p.Any {
				principals = append(principals, "*")
			}
			for _, v := range p.Kinds["AWS"] {
				principals = append(principals, v)
				if rest, ok := strings.CutPrefix(v, "arn:aws:iam::"); ok {
					if account, ok := strings.CutSuffix(rest, ":root"); ok {
						principals = append(principals, account)
					}
				}
			}
			principals = append(principals, p.Kinds["Service"]...)
			if len(principals) > 0 {
				keys["lambda:Principal"] = principals
			}
		}
		if v := st.Condition["StringEquals"]["lambda:FunctionUrlAuthType"]; len(v) > 0 {
			keys["lambda:FunctionUrlAuthType"] = v
		}
		return keys
	}
	return nil
}

// accessDenied is AWS's answer to a request IAM refuses, in the words of
// its access-denied messages.
func accessDenied(caller, action, resource string, v authz.Verdict) error {
	msg := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s ", caller, action, resource)
	article := "an"
	if v.By == authz.ResourceBased {
		article = "a"
	}
	if v.Decision == authz.ExplicitDeny {
		msg += fmt.Sprintf("with an explicit deny in %s %s policy", article, v.By)
	} else {
		msg += fmt.Sprintf("because no %s policy allows the %s action", v.By, action)
	}
	return &awsError{Status: http.StatusForbidden, Type: urlconfig.ErrAccessDenied, Message: &msg, MessageKey: "Message"}
}
