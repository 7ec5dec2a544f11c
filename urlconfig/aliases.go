package urlconfig

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// storedAlias is an alias as kept in the store.
type storedAlias struct {
	AliasConfiguration
}

// CreateAliasInput is CreateAlias' request; FunctionName comes from the
// path.
type CreateAliasInput struct {
	FunctionName    string                     `json:"-"`
	Name            *string                    `json:"Name"`
	FunctionVersion *string                    `json:"FunctionVersion"`
	Description     *string                    `json:"Description"`
	RoutingConfig   *AliasRoutingConfiguration `json:"RoutingConfig"`
}

// UpdateAliasInput is UpdateAlias' request; FunctionName and Name come
// from the path.
type UpdateAliasInput struct {
	FunctionName    string                     `json:"-"`
	Name            string                     `json:"-"`
	FunctionVersion *string                    `json:"FunctionVersion"`
	Description     *string                    `json:"Description"`
	RoutingConfig   *AliasRoutingConfiguration `json:"RoutingConfig"`
	RevisionId      *string                    `json:"RevisionId"`
}

func (f *fnBucket) alias(name string) (*storedAlias, bool, error) {
	var a storedAlias
	ok, err := getJSON(f.b.Bucket(bucketAliases), []byte(name), &a)
	if err != nil || !ok {
		return nil, false, err
	}
	return &a, true, nil
}

func (f *fnBucket) putAlias(a *storedAlias) error {
	return putJSON(f.b.Bucket(bucketAliases), []byte(a.Name), a)
}

// aliasesUsing names the aliases that route any traffic to version q.
func (f *fnBucket) aliasesUsing(q string) ([]string, error) {
	var users []string
	err := f.b.Bucket(bucketAliases).ForEach(func(_, raw []byte) error {
		var a storedAlias
		if err := json.Unmarshal(raw, &a); err != nil {
			return err
		}
		_, weighted := a.routing()[q]
		if a.FunctionVersion == q || weighted {
			users = append(users, a.Name)
		}
		return nil
	})
	sort.Strings(users)
	return users, err
}

func (a *storedAlias) routing() map[string]float64 {
	if a.RoutingConfig == nil {
		return nil
	}
	return a.RoutingConfig.AdditionalVersionWeights
}

// aliasChecks validates the members shared by CreateAlias and UpdateAlias.
func aliasChecks(v *violations, functionVersion, description *string, routing *AliasRoutingConfiguration) {
	v.optStr("functionVersion", functionVersion, 1, 1024, &patVersionLatestPublished)
	v.optStr("description", description, 0, 256, nil)
	if routing == nil {
		return
	}
	w := routing.AdditionalVersionWeights
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rendered := make([]string, len(keys))
	for i, k := range keys {
		rendered[i] = k + "=" + javaDouble(w[k])
	}
	value := "'{" + strings.Join(rendered, ", ") + "}'"
	for _, k := range keys {
		if !allDigits.MatchString(k) || len(k) > 1024 {
			v.add(value, "routingConfig.additionalVersionWeights", "Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]")
			return
		}
	}
	for _, k := range keys {
		if w[k] < 0 || w[k] > 1 {
			v.add(value, "routingConfig.additionalVersionWeights", "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]")
			return
		}
	}
}

// javaDouble renders a float as Java's Double.toString does for the
// values a weight can take, which is how AWS prints them.
func javaDouble(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

// checkTarget checks that an alias may point at version primary with the
// given extra weights.
func (s *Store) checkTarget(f *fnBucket, primary string, routing *AliasRoutingConfiguration) error {
	w := map[string]float64(nil)
	if routing != nil {
		w = routing.AdditionalVersionWeights
	}
	if len(w) > 1 {
		return invalidParam("Number of items in AdditionalVersionWeights cannot be greater than 1")
	}
	if primary == LatestVersion && len(w) > 0 {
		return &Error{Type: ErrInvalidParameter, Message: "$LATEST is not supported for an alias pointing to more than 1 version", NoUserType: true}
	}
	for k := range w {
		if k == primary {
			return invalidParam("Invalid function version %s. Function version %s is already included in routing configuration.", k, k)
		}
	}
	for _, ver := range append([]string{primary}, keysOf(w)...) {
		if ver == LatestVersion {
			continue
		}
		n, ok := parseVersion(ver)
		exists := false
		if ok {
			var err error
			if _, exists, err = f.version(n); err != nil {
				return err
			}
		}
		if !exists {
			return functionNotFound(s.account.QualifiedARN(f.name, ver))
		}
	}
	return nil
}

func keysOf(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// routingOrNil drops an empty routing configuration, which AWS does not
// keep.
func routingOrNil(r *AliasRoutingConfiguration) *AliasRoutingConfiguration {
	if r == nil || len(r.AdditionalVersionWeights) == 0 {
		return nil
	}
	return &AliasRoutingConfiguration{AdditionalVersionWeights: r.AdditionalVersionWeights}
}

// CreateAlias creates an alias for a version of a function.
func (s *Store) CreateAlias(ctx context.Context, in *CreateAliasInput) (*AliasConfiguration, error) {
	ref, err := s.resolveName(in.FunctionName, nil, wholeFunction, func(v *violations) {
		if in.Name == nil {
			v.required("name")
		} else {
			v.str("name", *in.Name, 1, 128, &patAlias)
		}
		if in.FunctionVersion == nil {
			v.required("functionVersion")
		}
		aliasChecks(v, in.FunctionVersion, in.Description, in.RoutingConfig)
	})
	if err != nil {
		return nil, err
	}
	var out AliasConfiguration
	err = s.update(func(t *txn) error {
		f, err := s.openFunction(t.Tx, ref.Name)
		if err != nil {
			return functionNotFound(s.account.QualifiedARN(ref.Name, *in.FunctionVersion))
		}
		if _, exists, err := f.alias(*in.Name); err != nil {
			return err
		} else if exists {
			return conflict("Alias already exists: %s", s.account.QualifiedARN(ref.Name, *in.Name))
		}
		if err := s.checkTarget(f, *in.FunctionVersion, in.RoutingConfig); err != nil {
			return err
		}
		a := &storedAlias{AliasConfiguration{
			AliasArn:        s.account.QualifiedARN(ref.Name, *in.Name),
			Name:            *in.Name,
			FunctionVersion: *in.FunctionVersion,
			Description:     deref(in.Description),
			RoutingConfig:   routingOrNil(in.RoutingConfig),
			RevisionId:      newRevisionID(),
		}}
		out = a.AliasConfiguration
		return f.putAlias(a)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// aliasRef validates the FunctionName and Name path parameters of the
// alias operations, with the operation's other members.
func (s *Store) aliasRef(functionName, name string, more func(*violations)) (funcRef, error) {
	return s.resolveName(functionName, nil, wholeFunction, func(v *violations) {
		v.str("name", name, 1, 128, &patAlias)
		if more != nil {
			more(v)
		}
	})
}

// GetAlias returns an alias.
func (s *Store) GetAlias(ctx context.Context, functionName, name string) (*AliasConfiguration, error) {
	ref, err := s.aliasRef(functionName, name, nil)
	if err != nil {
		return nil, err
	}
	var out AliasConfiguration
	err = s.view(func(tx *bolt.Tx) error {
		f, err := s.openFunction(tx, ref.Name)
		if err != nil {
			return err
		}
		a, ok, err := f.alias(name)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("Cannot find alias arn: %s", s.account.QualifiedARN(ref.Name, name))
		}
		out = a.AliasConfiguration
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateAlias changes what an alias points at or its description.
func (s *Store) UpdateAlias(ctx context.Context, in *UpdateAliasInput) (*AliasConfiguration, error) {
	ref, err := s.aliasRef(in.FunctionName, in.Name, func(v *violations) {
		aliasChecks(v, in.FunctionVersion, in.Description, in.RoutingConfig)
	})
	if err != nil {
		return nil, err
	}
	var out AliasConfiguration
	err = s.update(func(t *txn) error {
		f, err := s.openFunction(t.Tx, ref.Name)
		if err != nil {
			return err
		}
		a, ok, err := f.alias(in.Name)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("Alias not found: %s", s.account.QualifiedARN(ref.Name, in.Name))
		}
		if in.RevisionId != nil && *in.RevisionId != a.RevisionId {
			return revisionMismatch()
		}
		primary := a.FunctionVersion
		if in.FunctionVersion != nil {
			primary = *in.FunctionVersion
		}
		routing := a.RoutingConfig
		if in.RoutingConfig != nil {
			routing = routingOrNil(in.RoutingConfig)
		}
		if err := s.checkTarget(f, primary, routing); err != nil {
			return err
		}
		a.FunctionVersion, a.RoutingConfig = primary, routing
		if in.Description != nil {
			a.Description = *in.Description
		}
		a.RevisionId = newRevisionID()
		out = a.AliasConfiguration
		return f.putAlias(a)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteAlias deletes an alias with its function URL, its resource policy
// and its event invoke config. Deleting an alias that does not exist succeeds, as on AWS.
func (s *Store) DeleteAlias(ctx context.Context, functionName, name string) error {
	ref, err := s.aliasRef(functionName, name, nil)
	if err != nil {
		return err
	}
	return s.update(func(t *txn) error {
		f, err := s.openFunction(t.Tx, ref.Name)
		if err != nil {
			return err
		}
		if _, ok, err := f.alias(name); err != nil || !ok {
			return err
		}
		if err := f.deleteURL(t, name, true); err != nil {
			return err
		}
		if err := f.b.Bucket(bucketPolicies).Delete([]byte(name)); err != nil {
			return err
		}
		if err := f.deleteEventConfig(name); err != nil {
			return err
		}
		return f.b.Bucket(bucketAliases).Delete([]byte(name))
	})
}

// ListAliasesOutput is ListAliases' answer.
type ListAliasesOutput struct {
	NextMarker *string               `json:"NextMarker,omitempty"`
	Aliases    []*AliasConfiguration `json:"Aliases"`
}

// ListAliases lists a function's aliases in name order, optionally only
// those pointing at one version. The marker is the name that starts the
// next page.
func (s *Store) ListAliases(ctx context.Context, functionName string, functionVersion, marker *string, maxItems *int) (*ListAliasesOutput, error) {
	ref, err := s.resolveName(functionName, nil, wholeFunction, func(v *violations) {
		v.optStr("functionVersion", functionVersion, 1, 1024, &patVersionLatestPublished)
		v.intRange("maxItems", maxItems, 1, 10000)
	})
	if err != nil {
		return nil, err
	}
	limit := pageSize(maxItems)
	out := &ListAliasesOutput{Aliases: []*AliasConfiguration{}}
	err = s.view(func(tx *bolt.Tx) error {
		f, err := s.openFunction(tx, ref.Name)
		if err != nil {
			return err
		}
		c := f.b.Bucket(bucketAliases).Cursor()
		k, raw := c.First()
		if marker != nil {
			k, raw = c.Seek([]byte(*marker))
		}
		for ; k != nil; k, raw = c.Next() {
			var a storedAlias
			if err := json.Unmarshal(raw, &a); err != nil {
				return fmt.Errorf("urlconfig: corrupt alias %q: %w", k, err)
			}
			if functionVersion != nil && a.FunctionVersion != *functionVersion {
				continue
			}
			if len(out.Aliases) == limit {
				out.NextMarker = ptr(a.Name)
				break
			}
			cfg := a.AliasConfiguration
			out.Aliases = append(out.Aliases, &cfg)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
