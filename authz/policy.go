// Package authz decides who may invoke what: it evaluates IAM policy
// documents (a function's resource policy, an identity's policies) for a
// request, the way IAM does for the parts Lambda uses.
package authz

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Policy is an IAM policy document.
type Policy struct {
	Version   string      `json:"Version"`
	ID        string      `json:"Id,omitempty"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a policy. Members that IAM lets be a
// string or a list are lists here.
type Statement struct {
	Sid          string
	Effect       string
	Principal    *Principals // nil when absent (identity policies)
	NotPrincipal *Principals
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	Condition    map[string]map[string][]string // operator → key → values
}

// Principals is a statement's Principal: "*" or a map of kinds (AWS,
// Service, Federated, CanonicalUser) to values.
type Principals struct {
	Any   bool
	Kinds map[string][]string
}

// ParsePolicy reads a policy document. A single statement object, as IAM
// accepts, is read as a list of one.
func ParsePolicy(raw []byte) (*Policy, error) {
	if err := exactKeys(raw, "Version", "Id", "Statement"); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var doc struct {
		Version   string          `json:"Version"`
		ID        string          `json:"Id"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var rawStatements []json.RawMessage
	if len(doc.Statement) > 0 && doc.Statement[0] == '{' {
		rawStatements = []json.RawMessage{doc.Statement}
	} else if len(doc.Statement) > 0 {
		if err := json.Unmarshal(doc.Statement, &rawStatements); err != nil {
			return nil, fmt.Errorf("policy: Statement: %w", err)
		}
	}
	p := &Policy{Version: doc.Version, ID: doc.ID}
	for i, rs := range rawStatements {
		st, err := parseStatement(rs)
		if err != nil {
			return nil, fmt.Errorf("policy: statement %d: %w", i, err)
		}
		p.Statement = append(p.Statement, st)
	}
	return p, nil
}

// exactKeys refuses an object with a member IAM does not know, or one
// spelt in another case: encoding/json would match "effect" to Effect and
// drop "Conditon", and either could widen a grant.
func exactKeys(raw []byte, allowed ...string) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return err
	}
	for k := range members {
		known := false
		for _, a := range allowed {
			if k == a {
				known = true
				break
			}
		}
		if !known {
			return fmt.Errorf("unknown member %q", k)
		}
	}
	return nil
}

func parseStatement(raw json.RawMessage) (Statement, error) {
	if err := exactKeys(raw, "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"); err != nil {
		return Statement{}, err
	}
	var s struct {
		Sid          string                                `json:"Sid"`
		Effect       string                                `json:"Effect"`
		Principal    json.RawMessage                       `json:"Principal"`
		NotPrincipal json.RawMessage                       `json:"NotPrincipal"`
		Action       stringList                            `json:"Action"`
		NotAction    stringList                            `json:"NotAction"`
		Resource     stringList                            `json:"Resource"`
		NotResource  stringList                            `json:"NotResource"`
		Condition    map[string]map[string]json.RawMessage `json:"Condition"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return Statement{}, err
	}
	if s.Effect != "Allow" && s.Effect != "Deny" {
		return Statement{}, fmt.Errorf("the Effect %q is neither Allow nor Deny", s.Effect)
	}
	st := Statement{Sid: s.Sid, Effect: s.Effect, Action: s.Action, NotAction: s.NotAction, Resource: s.Resource, NotResource: s.NotResource}
	// A statement that names no action (or no resource) would match every
	// one; IAM refuses it.
	if len(st.Action) == 0 && len(st.NotAction) == 0 {
		return Statement{}, fmt.Errorf("a statement needs Action or NotAction")
	}
	if len(st.Resource) == 0 && len(st.NotResource) == 0 {
		return Statement{}, fmt.Errorf("a statement needs Resource or NotResource")
	}
	var err error
	if st.Principal, err = parsePrincipals(s.Principal); err != nil {
		return Statement{}, fmt.Errorf("Principal: %w", err)
	}
	if st.NotPrincipal, err = parsePrincipals(s.NotPrincipal); err != nil {
		return Statement{}, fmt.Errorf("NotPrincipal: %w", err)
	}
	if len(s.Condition) > 0 {
		st.Condition = map[string]map[string][]string{}
		for op, keys := range s.Condition {
			st.Condition[op] = map[string][]string{}
			for k, v := range keys {
				vals, err := conditionValues(v)
				if err != nil {
					return Statement{}, fmt.Errorf("the condition %s %s: %w", op, k, err)
				}
				st.Condition[op][k] = vals
			}
		}
	}
	return st, nil
}

// stringList reads a JSON string or list of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings: %w", err)
	}
	*l = many
	return nil
}

func parsePrincipals(raw json.RawMessage) (*Principals, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var star string
	if err := json.Unmarshal(raw, &star); err == nil {
		if star != "*" {
			return nil, fmt.Errorf("a string principal must be \"*\", not %q", star)
		}
		return &Principals{Any: true}, nil
	}
	var kinds map[string]stringList
	if err := json.Unmarshal(raw, &kinds); err != nil {
		return nil, err
	}
	p := &Principals{Kinds: map[string][]string{}}
	for k, v := range kinds {
		p.Kinds[k] = v
	}
	return p, nil
}

// conditionValues reads a condition's values: a string, number or
// boolean, or a list of them, all as strings as IAM compares them.
func conditionValues(raw json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		list = []json.RawMessage{raw}
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		var s string
		if err := json.Unmarshal(item, &s); err == nil {
			out = append(out, s)
			continue
		}
		var v any
		if err := json.Unmarshal(item, &v); err != nil {
			return nil, err
		}
		switch v.(type) {
		case bool, float64:
			out = append(out, strings.TrimSpace(string(item)))
		default:
			return nil, fmt.Errorf("condition values must be strings, numbers or booleans")
		}
	}
	return out, nil
}
