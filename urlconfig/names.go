package urlconfig

import (
	"strings"
)

// LatestVersion is the qualifier of a function's unpublished version.
const LatestVersion = "$LATEST"

// maxFunctionNameLen is AWS's limit on the name part of a function.
const maxFunctionNameLen = 64

// Account is the emulated AWS account: its id and the region furl serves.
type Account struct {
	ID     string
	Region string
}

// FunctionARN is the unqualified ARN of the named function.
func (a Account) FunctionARN(name string) string {
	return "arn:aws:lambda:" + a.Region + ":" + a.ID + ":function:" + name
}

// QualifiedARN is the ARN of a version or alias of the function; an empty
// qualifier gives the unqualified ARN.
func (a Account) QualifiedARN(name, qualifier string) string {
	if qualifier == "" {
		return a.FunctionARN(name)
	}
	return a.FunctionARN(name) + ":" + qualifier
}

// funcRef is a FunctionName parameter taken apart: the function's name and
// the qualifier written into it ("" when none).
type funcRef struct {
	Name      string
	Qualifier string
}

// parseFunctionName validates a FunctionName path parameter against the
// operation's model pattern and splits it. It accepts a name, a partial ARN
// (123456789012:function:name) and a full ARN, each with an optional
// :qualifier. maxLen is the model's limit for the whole value.
func (a Account) parseFunctionName(s string, pat pattern, maxLen int) (funcRef, error) {
	var v violations
	v.str("functionName", s, 1, maxLen, &pat)
	if err := v.err(); err != nil {
		return funcRef{}, err
	}
	parts := strings.Split(s, ":")
	var ref funcRef
	switch {
	case strings.HasPrefix(s, "arn:"):
		// arn:aws:lambda:region:account:function:name[:qualifier]
		if len(parts) < 7 || parts[5] != "function" {
			return funcRef{}, invalidFunctionName(s)
		}
		if parts[3] != a.Region {
			return funcRef{}, notFound("Functions from '%s' are not reachable in this region ('%s')", parts[3], a.Region)
		}
		if parts[4] != a.ID {
			return funcRef{}, accessDenied()
		}
		ref.Name = parts[6]
		if len(parts) == 8 {
			ref.Qualifier = parts[7]
		}
	case len(parts) >= 3 && parts[1] == "function":
		// account:function:name[:qualifier]
		if parts[0] != a.ID {
			return funcRef{}, accessDenied()
		}
		ref.Name = parts[2]
		if len(parts) == 4 {
			ref.Qualifier = parts[3]
		}
	case len(parts) <= 2:
		ref.Name = parts[0]
		if len(parts) == 2 {
			ref.Qualifier = parts[1]
		}
	default:
		return funcRef{}, invalidFunctionName(s)
	}
	if len(ref.Name) > maxFunctionNameLen || ref.Name == "" {
		v.add(quote(s), "functionName", "Member must have length less than or equal to 64")
		return funcRef{}, v.err()
	}
	return ref, nil
}

// ParseFunctionName splits a FunctionName as any operation accepts it (a
// name, a partial ARN or a full ARN of this account and region, each with
// an optional :qualifier) into the function's name and the qualifier
// written into it. It is as lenient as the most lenient operation: a name
// it refuses, every operation refuses.
func (a Account) ParseFunctionName(s string) (name, qualifier string, err error) {
	ref, err := a.parseFunctionName(s, patNamespacedFunctionName, 256)
	return ref.Name, ref.Qualifier, err
}

// overlongName reports a plain function name that fits the model's
// pattern but is longer than a function name may be.
func overlongName(s string) bool {
	return !strings.Contains(s, ":") && len(s) > maxFunctionNameLen && len(s) <= 256 && patNamespacedFunctionName.match(s)
}

func invalidFunctionName(s string) error {
	var v violations
	v.add(quote(s), "functionName", "Member must satisfy regular expression pattern: "+patFunctionName.Text)
	return v.err()
}

// nameRules are an operation's model rules for its FunctionName and
// Qualifier members.
type nameRules struct {
	name      pattern
	maxLen    int
	qualifier *pattern // nil: the operation takes no Qualifier parameter
	whole     bool     // the operation acts on the function as a whole
}

var (
	// wholeFunction is for operations on the function itself: updates,
	// publishing, aliases, concurrency. They refuse any qualifier.
	wholeFunction = nameRules{name: patFunctionName, maxLen: 140, whole: true}
	// anyVersion is for reads and deletes that take a version or an alias.
	anyVersion = nameRules{name: patNamespacedFunctionName, maxLen: 256, qualifier: &patQualifier}
	// urlRules is for the function URL operations: $LATEST or an alias.
	urlRules = nameRules{name: patFunctionName, maxLen: 140, qualifier: &patURLQualifier}
)

// resolveName validates an operation's FunctionName and Qualifier with its
// other members (more adds their checks, so that AWS's one message lists
// every violation), then splits the name and merges in the qualifier.
func (s *Store) resolveName(functionName string, qualifier *string, rules nameRules, more func(*violations)) (funcRef, error) {
	var v violations
	v.str("functionName", functionName, 1, rules.maxLen, &rules.name)
	if qualifier != nil && rules.qualifier != nil {
		v.str("qualifier", *qualifier, 1, 128, rules.qualifier)
	}
	if more != nil {
		more(&v)
	}
	if err := v.err(); err != nil {
		return funcRef{}, err
	}
	ref, err := s.account.parseFunctionName(functionName, rules.name, rules.maxLen)
	if err != nil {
		return funcRef{}, err
	}
	if rules.whole {
		return ref, ref.unqualifiedOnly()
	}
	if qualifier == nil && ref.Qualifier != "" && rules.qualifier != nil {
		// A qualifier written into the name obeys the Qualifier's rules.
		v.str("qualifier", ref.Qualifier, 1, 128, rules.qualifier)
		if err := v.err(); err != nil {
			return funcRef{}, err
		}
	}
	return ref.withQualifier(qualifier)
}

// withQualifier merges a qualifier written into the function name with the
// Qualifier parameter, which must agree when both are given.
func (r funcRef) withQualifier(param *string) (funcRef, error) {
	if param == nil {
		return r, nil
	}
	if r.Qualifier != "" && r.Qualifier != *param {
		return r, invalidParam("The derived qualifier from the function name does not match the specified qualifier.")
	}
	r.Qualifier = *param
	return r, nil
}

// unqualifiedOnly refuses a qualifier for operations that act on the
// function as a whole.
func (r funcRef) unqualifiedOnly() error {
	if r.Qualifier != "" {
		return invalidParam("This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.")
	}
	return nil
}
