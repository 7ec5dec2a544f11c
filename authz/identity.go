package authz

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Identity is a set of credentials and who they belong to: what furl knows
// of a caller that signs its requests.
type Identity struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, when set, must come with every request
	// (x-amz-security-token): the credentials are temporary.
	SessionToken string
	// ARN is the caller: an account's root, a user, a role or an
	// assumed-role session. Account is the account in it.
	ARN     string
	Account string
	// UserID is the caller's unique id as Lambda reports it (userId and
	// callerId of the event): the account for a root, AIDA… for a user,
	// AROA…:<session> for a session.
	UserID string
	// Policies are the identity's own IAM policies. A root needs none: it
	// may do anything in its account.
	Policies []*Policy
}

// Root reports whether the identity is an account's root.
func (id *Identity) Root() bool { return strings.HasSuffix(id.ARN, ":root") }

// Principal is the identity as a policy's Principal sees it.
func (id *Identity) Principal() Principal {
	return Principal{ARN: id.ARN, Account: id.Account}
}

// RootAccessKey and RootSecretKey are the credentials of the built-in root
// of furl's account, the ones every local AWS tool defaults to.
const (
	RootAccessKey = "test"
	RootSecretKey = "test"
)

// Identities are the callers furl recognizes, by access key.
type Identities struct {
	byKey map[string]*Identity
}

// NewIdentities knows only the root of account, as test/test.
func NewIdentities(account string) *Identities {
	return &Identities{byKey: map[string]*Identity{RootAccessKey: {
		AccessKeyID: RootAccessKey, SecretAccessKey: RootSecretKey,
		ARN: "arn:aws:iam::" + account + ":root", Account: account, UserID: account,
	}}}
}

// Lookup finds the identity of an access key, or nil.
func (s *Identities) Lookup(accessKeyID string) *Identity {
	return s.byKey[accessKeyID]
}

// Len is how many identities there are, the root included.
func (s *Identities) Len() int { return len(s.byKey) }

// identityFile is --iam-config's format.
type identityFile struct {
	Identities []struct {
		AccessKeyID     string            `json:"accessKeyId"`
		SecretAccessKey string            `json:"secretAccessKey"`
		SessionToken    string            `json:"sessionToken"`
		ARN             string            `json:"arn"`
		UserID          string            `json:"userId"`
		Policies        []json.RawMessage `json:"policies"`
	} `json:"identities"`
}

var callerARN = regexp.MustCompile(`^arn:aws:(iam::(\d{12}):(root|user/[\w+=,.@/-]+|role/[\w+=,.@/-]+)|sts::(\d{12}):assumed-role/[\w+=,.@-]+/[\w+=,.@-]+)$`)

// LoadIdentities reads --iam-config: a JSON document listing identities
// (accessKeyId, secretAccessKey, optional sessionToken, arn, optional
// userId and policies), added to the root of account.
func LoadIdentities(path, account string) (*Identities, error) {
	s := NewIdentities(account)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("iam config: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	var doc identityFile
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("iam config %s: %w", path, err)
	}
	for i, in := range doc.Identities {
		where := fmt.Sprintf("iam config %s: identity %d", path, i)
		if in.AccessKeyID == "" || in.SecretAccessKey == "" {
			return nil, fmt.Errorf("%s: accessKeyId and secretAccessKey are required", where)
		}
		if s.byKey[in.AccessKeyID] != nil {
			return nil, fmt.Errorf("%s: access key %q is already taken", where, in.AccessKeyID)
		}
		m := callerARN.FindStringSubmatch(in.ARN)
		if m == nil {
			return nil, fmt.Errorf("%s: arn %q is not an account root, user, role or assumed-role session ARN", where, in.ARN)
		}
		id := &Identity{AccessKeyID: in.AccessKeyID, SecretAccessKey: in.SecretAccessKey, SessionToken: in.SessionToken,
			ARN: in.ARN, Account: m[2] + m[4], UserID: in.UserID}
		if id.UserID == "" {
			id.UserID = defaultUserID(id.ARN, id.Account)
		}
		for j, rawPolicy := range in.Policies {
			p, err := ParsePolicy(rawPolicy)
			if err != nil {
				return nil, fmt.Errorf("%s: policy %d: %w", where, j, err)
			}
			for _, st := range p.Statement {
				if st.Principal != nil || st.NotPrincipal != nil {
					return nil, fmt.Errorf("%s: policy %d: an identity policy names no Principal", where, j)
				}
			}
			id.Policies = append(id.Policies, p)
		}
		s.byKey[id.AccessKeyID] = id
	}
	return s, nil
}

// defaultUserID makes a stable unique id of the kind IAM gives: the
// account for a root, AIDA… for a user, AROA… for a role, AROA…:<session>
// for a session.
func defaultUserID(arn, account string) string {
	sum := sha256.Sum256([]byte(arn))
	code := base32.StdEncoding.EncodeToString(sum[:])[:17]
	resource := arn[strings.LastIndex(arn, ":")+1:]
	switch {
	case resource == "root":
		return account
	case strings.HasPrefix(resource, "user/"):
		return "AIDA" + code
	case strings.HasPrefix(resource, "assumed-role/"):
		parts := strings.Split(resource, "/")
		roleSum := sha256.Sum256([]byte("arn:aws:iam::" + account + ":role/" + parts[1]))
		return "AROA" + base32.StdEncoding.EncodeToString(roleSum[:])[:17] + ":" + parts[2]
	default:
		return "AROA" + code
	}
}

// Verdict is Authorize's answer.
type Verdict struct {
	Decision Decision
	// By is the kind of policy that refused: IdentityBased (the caller's
	// own policies deny, or none allows) or ResourceBased (the resource
	// policy denies, or, for a caller of another account, does not
	// allow). Empty when allowed.
	By PolicyKind
	// Why says what denies or what grant is missing, for a log.
	Why string
}

// PolicyKind names the two sides IAM weighs, in the words of AWS's
// access-denied messages.
type PolicyKind string

// The kinds of policy a refusal names.
const (
	IdentityBased PolicyKind = "identity-based"
	ResourceBased PolicyKind = "resource-based"
)

// Authorize decides a signed caller's request the way IAM does for a
// resource with a resource policy: any explicit Deny wins; otherwise, in
// the resource's own account, the identity's policies or the resource
// policy must allow it, and across accounts both must.
func Authorize(id *Identity, resourceAccount string, resource *Policy, req Request) Verdict {
	req.Principal = id.Principal()
	onResource := Evaluate(resource, req)
	onIdentity := Result{Decision: Allow, Statement: "(the account root)"}
	if !id.Root() {
		onIdentity = Result{Decision: ImplicitDeny}
		for _, p := range id.Policies {
			r := Evaluate(p, req)
			if r.Decision == ExplicitDeny {
				onIdentity = r
				break
			}
			if r.Decision == Allow && onIdentity.Decision == ImplicitDeny {
				onIdentity = r
			}
		}
	}
	switch {
	case onResource.Decision == ExplicitDeny:
		return Verdict{ExplicitDeny, ResourceBased, fmt.Sprintf("statement %q of the resource policy denies %s to %s", onResource.Statement, req.Action, id.ARN)}
	case onIdentity.Decision == ExplicitDeny:
		return Verdict{ExplicitDeny, IdentityBased, fmt.Sprintf("statement %q of a policy of %s denies %s", onIdentity.Statement, id.ARN, req.Action)}
	}
	if id.Account == resourceAccount {
		// A resource policy that names the caller grants on its own; one
		// that names only the account leaves it to the caller's policies.
		if onResource.Decision == Allow && !onResource.ByAccount || onIdentity.Decision == Allow {
			return Verdict{Decision: Allow}
		}
		if onResource.Decision == Allow {
			return Verdict{ImplicitDeny, IdentityBased, fmt.Sprintf("the resource policy grants %s to the account %s, not to %s itself, and no policy of %s allows it", req.Action, id.Account, id.ARN, id.ARN)}
		}
		return Verdict{ImplicitDeny, IdentityBased, fmt.Sprintf("neither a policy of %s nor the resource policy allows %s", id.ARN, req.Action)}
	}
	var missing []string
	by := ResourceBased
	if onIdentity.Decision != Allow {
		by = IdentityBased
		missing = append(missing, fmt.Sprintf("no policy of %s allows %s (a caller from another account needs its own grant)", id.ARN, req.Action))
	}
	if onResource.Decision != Allow {
		missing = append(missing, fmt.Sprintf("the resource policy does not allow %s to %s (a caller from another account needs a grant there too)", req.Action, id.ARN))
	}
	if len(missing) > 0 {
		return Verdict{ImplicitDeny, by, strings.Join(missing, "; ")}
	}
	return Verdict{Decision: Allow}
}
