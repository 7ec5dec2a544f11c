package urlconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/furl-dev/furl/authz"
)

// maxPolicyBytes is the limit on a resource policy's size.
const maxPolicyBytes = 20480

// storedPolicy is one resource policy: the function's (key $LATEST), a
// version's or an alias'. Statements are kept as the exact JSON AWS would
// return, in the order they were added.
type storedPolicy struct {
	RevisionId string            `json:"RevisionId"`
	Statements []json.RawMessage `json:"Statements"`
}

// AddPermissionInput is AddPermission's request; FunctionName and
// Qualifier come from the path and query.
type AddPermissionInput struct {
	FunctionName          string  `json:"-"`
	Qualifier             *string `json:"-"`
	StatementId           *string `json:"StatementId"`
	Action                *string `json:"Action"`
	Principal             *string `json:"Principal"`
	SourceArn             *string `json:"SourceArn"`
	SourceAccount         *string `json:"SourceAccount"`
	EventSourceToken      *string `json:"EventSourceToken"`
	RevisionId            *string `json:"RevisionId"`
	PrincipalOrgID        *string `json:"PrincipalOrgID"`
	FunctionUrlAuthType   *string `json:"FunctionUrlAuthType"`
	InvokedViaFunctionUrl *bool   `json:"InvokedViaFunctionUrl"`
}

// GetPolicyOutput is GetPolicy's answer.
type GetPolicyOutput struct {
	Policy     string `json:"Policy"`
	RevisionId string `json:"RevisionId"`
}

var (
	accountPrincipal = regexp.MustCompile(`^\d{12}$`)
	servicePrincipal = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*\.(amazonaws\.com|amazon\.com)$`)
)

func policyKey(qualifier string) []byte { return urlKey(qualifier) }

func (f *fnBucket) policy(qualifier string) (*storedPolicy, bool, error) {
	var p storedPolicy
	ok, err := getJSON(f.b.Bucket(bucketPolicies), policyKey(qualifier), &p)
	if err != nil || !ok {
		return nil, false, err
	}
	return &p, true, nil
}

// document renders a policy as AWS's GetPolicy returns it.
func (p *storedPolicy) document() []byte {
	var b bytes.Buffer
	b.WriteString(`{"Version":"2012-10-17","Id":"default","Statement":[`)
	for i, st := range p.Statements {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(st)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func sidOf(raw json.RawMessage) string {
	var s struct{ Sid string }
	_ = json.Unmarshal(raw, &s) // statements are written by buildStatement
	return s.Sid
}

// object writes a JSON object with members in the order given, which is
// what AWS's statements need and encoding/json's maps cannot give.
type object struct {
	buf bytes.Buffer
	n   int
}

func (o *object) put(key string, value any) {
	if o.n == 0 {
		o.buf.WriteByte('{')
	} else {
		o.buf.WriteByte(',')
	}
	o.n++
	k, _ := json.Marshal(key)
	o.buf.Write(k)
	o.buf.WriteByte(':')
	switch v := value.(type) {
	case json.RawMessage:
		o.buf.Write(v)
	default:
		raw, _ := json.Marshal(v) // strings and maps of strings always encode
		o.buf.Write(raw)
	}
}

func (o *object) bytes() json.RawMessage {
	if o.n == 0 {
		return json.RawMessage(`{}`)
	}
	return append(o.buf.Bytes(), '}')
}

// buildStatement builds the statement AWS adds for an AddPermission
// request: key order Sid, Effect, Principal, Action, Resource, Condition;
// string conditions merged into one StringEquals block before ArnLike.
func (s *Store) buildStatement(in *AddPermissionInput, resource string) (json.RawMessage, error) {
	principal, err := s.principal(*in.Principal)
	if err != nil {
		return nil, err
	}
	var eq object
	if in.SourceAccount != nil {
		eq.put("AWS:SourceAccount", *in.SourceAccount)
	}
	if in.FunctionUrlAuthType != nil {
		eq.put("lambda:FunctionUrlAuthType", *in.FunctionUrlAuthType)
	}
	if in.PrincipalOrgID != nil {
		eq.put("aws:PrincipalOrgID", *in.PrincipalOrgID)
	}
	if in.EventSourceToken != nil {
		eq.put("lambda:EventSourceToken", *in.EventSourceToken)
	}
	var cond object
	if eq.n > 0 {
		cond.put("StringEquals", eq.bytes())
	}
	if in.SourceArn != nil {
		var like object
		like.put("AWS:SourceArn", *in.SourceArn)
		cond.put("ArnLike", like.bytes())
	}
	if in.InvokedViaFunctionUrl != nil && *in.InvokedViaFunctionUrl {
		var b object
		b.put("lambda:InvokedViaFunctionUrl", "true")
		cond.put("Bool", b.bytes())
	}
	var st object
	st.put("Sid", *in.StatementId)
	st.put("Effect", "Allow")
	st.put("Principal", principal)
	st.put("Action", *in.Action)
	st.put("Resource", resource)
	if cond.n > 0 {
		st.put("Condition", cond.bytes())
	}
	return st.bytes(), nil
}

// principal turns AddPermission's Principal into a policy principal: "*",
// an account (as its root), an ARN, or an AWS service.
func (s *Store) principal(p string) (any, error) {
	switch {
	case p == "*":
		return "*", nil
	case accountPrincipal.MatchString(p):
		return map[string]string{"AWS": "arn:aws:iam::" + p + ":root"}, nil
	case strings.HasPrefix(p, "arn:"):
		return map[string]string{"AWS": p}, nil
	case servicePrincipal.MatchString(p):
		return map[string]string{"Service": p}, nil
	}
	return nil, invalidParam("The provided principal was invalid. Please check the principal and try again.")
}

// AddPermission adds a statement to the resource policy of the function,
// a version or an alias, and returns the statement.
func (s *Store) AddPermission(ctx context.Context, in *AddPermissionInput) (string, error) {
	ref, err := s.resolveName(in.FunctionName, in.Qualifier, anyVersion, func(v *violations) {
		if in.StatementId == nil {
			v.required("statementId")
		}
		if in.Action == nil {
			v.required("action")
		}
		if in.Principal == nil {
			v.required("principal")
		}
		v.optStr("statementId", in.StatementId, 1, 100, &patStatementID)
		v.optStr("action", in.Action, 0, -1, &patAction)
		v.optStr("principal", in.Principal, 0, -1, &patPrincipal)
		v.optStr("sourceArn", in.SourceArn, 0, -1, &patArn)
		v.optStr("sourceAccount", in.SourceAccount, 0, 12, &patSourceOwner)
		v.optStr("eventSourceToken", in.EventSourceToken, 0, 256, &patEventSourceToken)
		v.optStr("principalOrgID", in.PrincipalOrgID, 12, 34, &patPrincipalOrgID)
		v.enum("functionUrlAuthType", in.FunctionUrlAuthType, authTypes)
	})
	if err != nil {
		return "", err
	}
	fromName := in.Qualifier == nil
	if ref.Qualifier == LatestVersion {
		return "", invalidParam("We currently do not support adding policies for $LATEST.")
	}
	if in.FunctionUrlAuthType != nil && *in.Action != "lambda:InvokeFunctionUrl" {
		return "", invalidParam("FunctionUrlAuthType is only supported for lambda:InvokeFunctionUrl action")
	}
	if in.InvokedViaFunctionUrl != nil && *in.InvokedViaFunctionUrl && *in.Action != "lambda:InvokeFunction" {
		return "", invalidParam("InvokedViaFunctionUrl is only supported for lambda:InvokeFunction action")
	}
	if in.EventSourceToken != nil && (in.SourceAccount != nil || in.SourceArn != nil) {
		return "", invalidParam("EventSourceToken cannot be used together with SourceAccount or SourceArn.")
	}
	resource := s.account.QualifiedARN(ref.Name, ref.Qualifier)
	statement, err := s.buildStatement(in, resource)
	if err != nil {
		return "", err
	}
	err = s.update(func(t *txn) error {
		f, err := s.openFunction(t.Tx, ref.Name)
		if err != nil {
			return err
		}
		missing := func() error {
			if fromName && !allDigits.MatchString(ref.Qualifier) {
				return notFound("Cannot find alias arn: %s", resource)
			}
			return functionNotFound(resource)
		}
		target, err := f.lookup(ref.Qualifier, missing)
		if err != nil {
			return err
		}
		p, exists, err := f.policy(ref.Qualifier)
		if err != nil {
			return err
		}
		if in.RevisionId != nil {
			current := ""
			switch {
			case exists:
				current = p.RevisionId
			case target.alias != nil:
				current = target.alias.RevisionId
			default:
				current = target.config.RevisionId
			}
			if *in.RevisionId != current {
				return policyRevisionMismatch()
			}
		}
		if !exists {
			p = &storedPolicy{}
		}
		for _, st := range p.Statements {
			if sidOf(st) == *in.StatementId {
				return conflict("The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", *in.StatementId)
			}
		}
		p.Statements = append(p.Statements, statement)
		if size := len(p.document()); size > maxPolicyBytes {
			return errorf(ErrPolicyLengthExceeded, "The final policy size (%d) is bigger than the limit (%d).", size, maxPolicyBytes)
		}
		p.RevisionId = newRevisionID()
		return putJSON(f.b.Bucket(bucketPolicies), policyKey(ref.Qualifier), p)
	})
	if err != nil {
		return "", err
	}
	return string(statement), nil
}

func policyRevisionMismatch() error {
	return errorf(ErrPreconditionFailed, "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id")
}

// GetPolicy returns the resource policy of the function, a version or an
// alias.
func (s *Store) GetPolicy(ctx context.Context, functionName string, qualifier *string) (*GetPolicyOutput, error) {
	ref, err := s.resolveName(functionName, qualifier, anyVersion, nil)
	if err != nil {
		return nil, err
	}
	var out GetPolicyOutput
	err = s.view(func(tx *bolt.Tx) error {
		f, err := s.openFunction(tx, ref.Name)
		if err != nil {
			return resourceNotFound()
		}
		p, ok, err := f.policy(normalQualifier(ref.Qualifier))
		if err != nil {
			return err
		}
		if !ok {
			return resourceNotFound()
		}
		out = GetPolicyOutput{Policy: string(p.document()), RevisionId: p.RevisionId}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ResourcePolicy is the resource policy that governs requests for the
// function name with qualifier ("" for none; $LATEST is the function's
// own): the function's, a version's or an alias'. It is nil when there is
// none, or no such function, version or alias. The answer is shared:
// callers must not change it.
func (s *Store) ResourcePolicy(ctx context.Context, name, qualifier string) (*authz.Policy, error) {
	q := normalQualifier(qualifier)
	gen := s.gen.Load()
	key := name + "\x00" + q
	if p, ok := s.policies.get(key, gen); ok {
		return p, nil
	}
	var out *authz.Policy
	err := s.view(func(tx *bolt.Tx) error {
		f, err := s.openFunction(tx, name)
		if err != nil {
			if e, ok := AsError(err); ok && e.Type == ErrNotFound {
				return nil
			}
			return err
		}
		p, ok, err := f.policy(q)
		if err != nil || !ok {
			return err
		}
		if out, err = authz.ParsePolicy(p.document()); err != nil {
			return fmt.Errorf("urlconfig: stored policy of %s: %w", s.account.QualifiedARN(name, q), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out != nil {
		// Only policies that exist are kept, so that the cache holds no
		// more entries than the store holds policies, whatever names
		// callers ask about.
		s.policies.put(key, gen, out)
	}
	return out, nil
}

// normalQualifier maps an explicit $LATEST to the unqualified function,
// whose policy $LATEST uses.
func normalQualifier(q string) string {
	if q == LatestVersion {
		return ""
	}
	return q
}

// RemovePermission removes a statement from a resource policy; removing
// the last statement removes the policy.
func (s *Store) RemovePermission(ctx context.Context, functionName, statementID string, qualifier, revisionID *string) error {
	ref, err := s.resolveName(functionName, qualifier, anyVersion, func(v *violations) {
		v.str("statementId", statementID, 1, 100, &patNamespacedStatementID)
	})
	if err != nil {
		return err
	}
	q := normalQualifier(ref.Qualifier)
	return s.update(func(t *txn) error {
		f, err := s.openFunction(t.Tx, ref.Name)
		if err != nil {
			return notFound("No policy found for: %s", s.account.FunctionARN(ref.Name))
		}
		if q != "" && !allDigits.MatchString(q) {
			if _, ok, err := f.alias(q); err != nil {
				return err
			} else if !ok {
				return notFound("Cannot find alias arn: %s", s.account.QualifiedARN(ref.Name, q))
			}
		}
		p, ok, err := f.policy(q)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("No policy is associated with the given resource.")
		}
		if revisionID != nil && *revisionID != p.RevisionId {
			return policyRevisionMismatch()
		}
		kept := p.Statements[:0]
		found := false
		for _, st := range p.Statements {
			if sidOf(st) == statementID {
				found = true
				continue
			}
			kept = append(kept, st)
		}
		if !found {
			return notFound("Statement %s is not found in resource policy.", statementID)
		}
		if len(kept) == 0 {
			return f.b.Bucket(bucketPolicies).Delete(policyKey(q))
		}
		p.Statements = kept
		p.RevisionId = newRevisionID()
		return putJSON(f.b.Bucket(bucketPolicies), policyKey(q), p)
	})
}
