package authz

import (
	"regexp"
	"strconv"
	"strings"
)

// Principal is who makes a request.
type Principal struct {
	// Anonymous is a caller without credentials, as on a NONE URL.
	Anonymous bool
	// ARN is the caller's identity: a user, a role, an assumed-role
	// session, or an account's root.
	ARN string
	// Account is the caller's account id.
	Account string
	// Service is an AWS service principal (s3.amazonaws.com), for requests
	// made by a service.
	Service string
}

// Request is what a policy is asked about.
type Request struct {
	Principal Principal
	Action    string
	Resource  string
	// Context is the request's condition keys. Names are matched without
	// regard to case, as IAM does.
	Context map[string][]string
}

// Decision is a policy's verdict.
type Decision int

const (
	// ImplicitDeny: no statement allows the request.
	ImplicitDeny Decision = iota
	// Allow: a statement allows it and none denies it.
	Allow
	// ExplicitDeny: a statement denies it.
	ExplicitDeny
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "allow"
	case ExplicitDeny:
		return "explicit deny"
	}
	return "implicit deny"
}

// Result is a decision and the statement that made it ("" for an
// implicit deny).
type Result struct {
	Decision  Decision
	Statement string
	// ByAccount is set on an Allow that only statements naming the
	// caller's account gave: a grant to the account, not to the caller.
	ByAccount bool
}

// Evaluate decides a request against one policy: an explicit Deny wins,
// then any Allow; otherwise the request is implicitly denied. A nil
// policy allows nothing.
func Evaluate(p *Policy, req Request) Result {
	if p == nil {
		return Result{Decision: ImplicitDeny}
	}
	ctx := make(map[string][]string, len(req.Context))
	for k, v := range req.Context {
		ctx[strings.ToLower(k)] = v
	}
	out := Result{Decision: ImplicitDeny}
	for i := range p.Statement {
		st := &p.Statement[i]
		if !st.matches(req, ctx) {
			continue
		}
		if st.Effect == "Deny" {
			return Result{Decision: ExplicitDeny, Statement: st.Sid}
		}
		byAccount := st.Principal != nil && st.Principal.matchKind(req.Principal) == byAccount
		if out.Decision == ImplicitDeny || out.ByAccount && !byAccount {
			out = Result{Decision: Allow, Statement: st.Sid, ByAccount: byAccount}
		}
	}
	return out
}

func (st *Statement) matches(req Request, ctx map[string][]string) bool {
	switch {
	case st.Principal != nil && !st.Principal.match(req.Principal):
		return false
	case st.NotPrincipal != nil && st.NotPrincipal.match(req.Principal):
		return false
	case len(st.Action) > 0 && !anyGlob(st.Action, req.Action, true):
		return false
	case len(st.NotAction) > 0 && anyGlob(st.NotAction, req.Action, true):
		return false
	case len(st.Resource) > 0 && !anyGlob(st.Resource, req.Resource, false):
		return false
	case len(st.NotResource) > 0 && anyGlob(st.NotResource, req.Resource, false):
		return false
	}
	for op, keys := range st.Condition {
		for key, values := range keys {
			if !condition(op, ctx[strings.ToLower(key)], values, hasKey(ctx, key)) {
				return false
			}
		}
	}
	return true
}

func hasKey(ctx map[string][]string, key string) bool {
	_, ok := ctx[strings.ToLower(key)]
	return ok
}

var accountID = regexp.MustCompile(`^\d{12}$`)

// principalMatch is how a statement's principals include a caller.
type principalMatch int

const (
	noMatch principalMatch = iota
	// byAccount: the statement names the caller's account (its id or root
	// ARN). IAM reads that as handing the decision to the account, whose
	// identity policies must then allow the request too.
	byAccount
	// named: the statement names the caller (or everyone).
	named
)

// match reports whether a statement's principals include the caller.
func (p *Principals) match(c Principal) bool { return p.matchKind(c) != noMatch }

// matchKind says how a statement's principals include the caller. "*" and
// {"AWS":"*"} name everyone, anonymous callers too; an account (or its
// root ARN) includes every identity of the account; a role ARN names its
// assumed-role sessions.
func (p *Principals) matchKind(c Principal) principalMatch {
	if p.Any {
		return named
	}
	best := noMatch
	for _, v := range p.Kinds["AWS"] {
		switch {
		case v == "*":
			return named
		case c.Anonymous:
			continue
		case accountID.MatchString(v):
			if c.Account == v {
				best = byAccount
			}
		case strings.HasPrefix(v, "arn:") && strings.HasSuffix(v, ":root"):
			if parts := strings.Split(v, ":"); len(parts) == 6 && parts[4] == c.Account {
				if v == c.ARN {
					return named // the root itself
				}
				best = byAccount
			}
		case v == c.ARN || sessionOfRole(v, c.ARN):
			return named
		}
	}
	for _, v := range p.Kinds["Service"] {
		if c.Service != "" && v == c.Service {
			return named
		}
	}
	return best
}

// sessionOfRole reports whether caller is an assumed-role session of the
// role ARN (arn:aws:iam::A:role/[path/]R, whose sessions are
// arn:aws:sts::A:assumed-role/R/S: without the path).
func sessionOfRole(role, caller string) bool {
	rp := strings.SplitN(role, ":", 6)
	cp := strings.SplitN(caller, ":", 6)
	if len(rp) != 6 || len(cp) != 6 || rp[2] != "iam" || cp[2] != "sts" || rp[4] != cp[4] || rp[1] != cp[1] {
		return false
	}
	roleName, ok := strings.CutPrefix(rp[5], "role/")
	if !ok {
		return false
	}
	roleName = roleName[strings.LastIndex(roleName, "/")+1:]
	rest, ok := strings.CutPrefix(cp[5], "assumed-role/")
	if !ok {
		return false
	}
	name, _, ok := strings.Cut(rest, "/")
	return ok && name == roleName
}

// anyGlob matches s against IAM wildcards (* and ?).
func anyGlob(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if glob(p, s, fold) {
			return true
		}
	}
	return false
}

func glob(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	if pattern == "*" {
		return true
	}
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	// Not path.Match: it treats / and [ specially, and IAM does neither.
	return globMatch(pattern, s)
}

// globMatch is * (any run) and ? (one character) matching.
func globMatch(p, s string) bool {
	star, mark := -1, 0
	i, j := 0, 0
	for j < len(s) {
		switch {
		case i < len(p) && (p[i] == '?' || p[i] == s[j]):
			i++
			j++
		case i < len(p) && p[i] == '*':
			star, mark = i, j
			i++
		case star >= 0:
			i = star + 1
			mark++
			j = mark
		default:
			return false
		}
	}
	for i < len(p) && p[i] == '*' {
		i++
	}
	return i == len(p)
}

// condition evaluates one condition key: the request's values against the
// policy's, under an operator with IAM's IfExists suffix and
// ForAnyValue/ForAllValues prefixes. An operator furl does not know never
// matches.
func condition(op string, actual, want []string, present bool) bool {
	set := ""
	if p, rest, ok := strings.Cut(op, ":"); ok {
		set, op = p, rest
	}
	ifExists := strings.HasSuffix(op, "IfExists")
	op = strings.TrimSuffix(op, "IfExists")
	if op == "Null" {
		for _, w := range want {
			if strings.EqualFold(w, "true") != present {
				return true
			}
		}
		return false
	}
	negated := strings.Contains(op, "Not")
	switch {
	case set == "ForAllValues" && len(actual) == 0:
		return true // every one of no values matches
	case set == "ForAnyValue" && len(actual) == 0:
		return false // none of no values matches
	case !present:
		return ifExists || negated
	}
	test, ok := operators[op]
	if !ok {
		return false
	}
	one := func(a string) bool {
		for _, w := range want {
			if test(a, w) {
				return !negated
			}
		}
		return negated
	}
	switch set {
	case "ForAllValues":
		for _, a := range actual {
			if !one(a) {
				return false
			}
		}
		return true
	default: // single-valued keys, and ForAnyValue
		for _, a := range actual {
			if one(a) {
				return true
			}
		}
		return false
	}
}

// operators test one request value against one policy value; the Not
// forms use their positive test, negated by condition.
var operators = map[string]func(actual, want string) bool{
	"StringEquals":              func(a, w string) bool { return a == w },
	"StringNotEquals":           func(a, w string) bool { return a == w },
	"StringEqualsIgnoreCase":    strings.EqualFold,
	"StringNotEqualsIgnoreCase": strings.EqualFold,
	"StringLike":                func(a, w string) bool { return glob(w, a, false) },
	"StringNotLike":             func(a, w string) bool { return glob(w, a, false) },
	"ArnEquals":                 arnLike,
	"ArnLike":                   arnLike,
	"ArnNotEquals":              arnLike,
	"ArnNotLike":                arnLike,
	"Bool":                      func(a, w string) bool { return strings.EqualFold(a, w) },
	"NumericEquals":             numeric(func(a, w float64) bool { return a == w }),
	"NumericNotEquals":          numeric(func(a, w float64) bool { return a == w }),
	"NumericLessThan":           numeric(func(a, w float64) bool { return a < w }),
	"NumericLessThanEquals":     numeric(func(a, w float64) bool { return a <= w }),
	"NumericGreaterThan":        numeric(func(a, w float64) bool { return a > w }),
	"NumericGreaterThanEquals":  numeric(func(a, w float64) bool { return a >= w }),
}

// arnLike compares ARNs segment by segment (partition, service, region,
// account, resource), each with wildcards.
func arnLike(a, w string) bool {
	as, ws := strings.SplitN(a, ":", 6), strings.SplitN(w, ":", 6)
	if len(as) != 6 || len(ws) != 6 {
		return false
	}
	for i := range as {
		if !glob(ws[i], as[i], false) {
			return false
		}
	}
	return true
}

func numeric(f func(a, w float64) bool) func(string, string) bool {
	return func(a, w string) bool {
		x, err1 := strconv.ParseFloat(a, 64)
		y, err2 := strconv.ParseFloat(w, 64)
		return err1 == nil && err2 == nil && f(x, y)
	}
}
