package urlconfig

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// urlTimeLayout is how AWS writes a URL config's CreationTime and
// LastModifiedTime: microseconds, UTC.
const urlTimeLayout = "2006-01-02T15:04:05.000000Z"

// storedURL is a function URL config as kept in the store. Cors and
// InvokeMode are kept as the caller set them: AWS answers some operations
// with only the members that were supplied.
type storedURL struct {
	URLID            string `json:"UrlId"`
	Qualifier        string `json:"Qualifier"`
	AuthType         string `json:"AuthType"`
	Cors             *Cors  `json:"Cors,omitempty"`
	InvokeMode       string `json:"InvokeMode,omitempty"`
	CreationTime     string `json:"CreationTime"`
	LastModifiedTime string `json:"LastModifiedTime"`
}

// urlTarget is what a url-id points at. Deleted is set for the URL of an
// alias that was deleted: AWS then answers its requests with a Forbidden of
// its own, not as an unknown URL.
type urlTarget struct {
	FunctionName string `json:"FunctionName"`
	Qualifier    string `json:"Qualifier"`
	Deleted      bool   `json:"Deleted,omitempty"`
}

// FunctionURLConfig is a URL config as the URL operations answer it.
// LastModifiedTime is absent from Create's answer; InvokeMode and Cors are
// absent when the operation does not report them.
type FunctionURLConfig struct {
	FunctionUrl      string `json:"FunctionUrl"`
	FunctionArn      string `json:"FunctionArn"`
	AuthType         string `json:"AuthType"`
	Cors             *Cors  `json:"Cors,omitempty"`
	CreationTime     string `json:"CreationTime"`
	LastModifiedTime string `json:"LastModifiedTime,omitempty"`
	InvokeMode       string `json:"InvokeMode,omitempty"`
}

// URLConfigInput is the request of CreateFunctionUrlConfig and
// UpdateFunctionUrlConfig; FunctionName and Qualifier come from the path
// and query.
type URLConfigInput struct {
	FunctionName string  `json:"-"`
	Qualifier    *string `json:"-"`
	AuthType     *string `json:"AuthType"`
	Cors         *Cors   `json:"Cors"`
	InvokeMode   *string `json:"InvokeMode"`
}

var authTypes = []string{AuthTypeNone, AuthTypeAWSIAM}

// urlKey is the key of a URL config in its function's bucket: the alias,
// or $LATEST for the unqualified function.
func urlKey(qualifier string) []byte {
	if qualifier == "" {
		return []byte(LatestVersion)
	}
	return []byte(qualifier)
}

// NewURLID makes a url-id shaped like AWS's: 26 lower-case base32
// characters of 128 random bits, a 0, and five random letters.
func NewURLID() string {
	var b [16]byte
	randomBytes(b[:])
	id := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	var tail [5]byte
	randomBytes(tail[:])
	var sb strings.Builder
	sb.WriteString(id)
	sb.WriteByte('0')
	for _, c := range tail {
		sb.WriteByte('a' + c%26)
	}
	return sb.String()
}

// urlChecks are the model rules of a URL config's members; AuthType is
// required on create only.
func urlChecks(in *URLConfigInput, create bool) func(*violations) {
	return func(v *violations) {
		if create && in.AuthType == nil {
			v.required("authType")
		}
		v.enum("authType", in.AuthType, authTypes)
		corsChecks(v, in.Cors)
		v.enum("invokeMode", in.InvokeMode, []string{InvokeModeResponseStream, InvokeModeBuffered})
	}
}

func corsChecks(v *violations, c *Cors) {
	if c == nil {
		return
	}
	v.list("cors.allowHeaders", c.AllowHeaders, 100, 0, 1024)
	v.list("cors.allowMethods", c.AllowMethods, 6, 0, 6)
	v.list("cors.allowOrigins", c.AllowOrigins, 100, 1, 253)
	v.list("cors.exposeHeaders", c.ExposeHeaders, 100, 0, 1024)
	v.intRange("cors.maxAge", c.MaxAge, 0, 86400)
}

// resolveURLTarget checks that the function, and the alias when there is
// one, exist. missing is the error for either being absent.
func (s *Store) resolveURLTarget(tx *bolt.Tx, ref funcRef, missing func() error) (*fnBucket, error) {
	f, err := s.openFunction(tx, ref.Name)
	if err != nil {
		return nil, missing()
	}
	if ref.Qualifier != "" {
		if _, ok, err := f.alias(ref.Qualifier); err != nil {
			return nil, err
		} else if !ok {
			return nil, missing()
		}
	}
	return f, nil
}

func (f *fnBucket) url(qualifier string) (*storedURL, bool, error) {
	var u storedURL
	ok, err := getJSON(f.b.Bucket(bucketURLs), urlKey(qualifier), &u)
	if err != nil || !ok {
		return nil, false, err
	}
	return &u, true, nil
}

// deleteURL removes the URL config of a qualifier, if any, with its
// url-id; tombstone keeps the url-id marked as the URL of a deleted alias.
func (f *fnBucket) deleteURL(t *txn, qualifier string, tombstone bool) error {
	u, ok, err := f.url(qualifier)
	if err != nil || !ok {
		return err
	}
	ids := t.Bucket(bucketURLIDs)
	if tombstone {
		err = putJSON(ids, []byte(u.URLID), urlTarget{FunctionName: f.name, Qualifier: qualifier, Deleted: true})
	} else {
		err = ids.Delete([]byte(u.URLID))
	}
	if err != nil {
		return err
	}
	return f.b.Bucket(bucketURLs).Delete(urlKey(qualifier))
}

// view builds the answer for a stored URL config; full adds what Get and
// List report beyond Create: LastModifiedTime and the default InvokeMode.
func (s *Store) urlView(name string, u *storedURL, full bool) *FunctionURLConfig {
	out := &FunctionURLConfig{
		FunctionUrl:  s.functionURL(u.URLID),
		FunctionArn:  s.account.QualifiedARN(name, u.Qualifier),
		AuthType:     u.AuthType,
		Cors:         u.Cors,
		CreationTime: u.CreationTime,
		InvokeMode:   u.InvokeMode,
	}
	if full {
		out.LastModifiedTime = u.LastModifiedTime
		if out.InvokeMode == "" {
			out.InvokeMode = InvokeModeBuffered
		}
	}
	return out
}

// CreateFunctionURLConfig gives the function, or one of its aliases, a URL.
func (s *Store) CreateFunctionURLConfig(ctx context.Context, in *URLConfigInput) (*FunctionURLConfig, error) {
	ref, err := s.resolveName(in.FunctionName, in.Qualifier, urlRules, urlChecks(in, true))
	if err != nil {
		return nil, err
	}
	var out *FunctionURLConfig
	err = s.update(func(t *txn) error {
		f, err := s.resolveURLTarget(t.Tx, ref, func() error { return notFound("Function does not exist") })
		if err != nil {
			return err
		}
		if _, exists, err := f.url(ref.Qualifier); err != nil {
			return err
		} else if exists {
			return conflict("Failed to create function url config for [functionArn = %s]. Error message:  FunctionUrlConfig exists for this Lambda function", s.account.QualifiedARN(ref.Name, ref.Qualifier))
		}
		ids := t.Bucket(bucketURLIDs)
		id := NewURLID()
		for ids.Get([]byte(id)) != nil {
			id = NewURLID()
		}
		now := s.now().UTC().Format(urlTimeLayout)
		u := &storedURL{
			URLID:            id,
			Qualifier:        ref.Qualifier,
			AuthType:         *in.AuthType,
			Cors:             in.Cors,
			InvokeMode:       deref(in.InvokeMode),
			CreationTime:     now,
			LastModifiedTime: now,
		}
		if err := putJSON(ids, []byte(id), urlTarget{FunctionName: ref.Name, Qualifier: ref.Qualifier}); err != nil {
			return err
		}
		if err := putJSON(f.b.Bucket(bucketURLs), urlKey(ref.Qualifier), u); err != nil {
			return err
		}
		out = s.urlView(ref.Name, u, false)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetFunctionURLConfig returns the URL config of the function or alias.
func (s *Store) GetFunctionURLConfig(ctx context.Context, functionName string, qualifier *string) (*FunctionURLConfig, error) {
	ref, err := s.resolveName(functionName, qualifier, urlRules, nil)
	if err != nil {
		return nil, err
	}
	var out *FunctionURLConfig
	err = s.view(func(tx *bolt.Tx) error {
		f, err := s.resolveURLTarget(tx, ref, func() error { return resourceNotFound() })
		if err != nil {
			return err
		}
		u, ok, err := f.url(ref.Qualifier)
		if err != nil {
			return err
		}
		if !ok {
			return resourceNotFound()
		}
		out = s.urlView(ref.Name, u, true)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateFunctionURLConfig changes the members given and keeps the others.
func (s *Store) UpdateFunctionURLConfig(ctx context.Context, in *URLConfigInput) (*FunctionURLConfig, error) {
	ref, err := s.resolveName(in.FunctionName, in.Qualifier, urlRules, urlChecks(in, false))
	if err != nil {
		return nil, err
	}
	var out *FunctionURLConfig
	err = s.update(func(t *txn) error {
		f, err := s.resolveURLTarget(t.Tx, ref, func() error { return notFound("Function does not exist") })
		if err != nil {
			return err
		}
		u, ok, err := f.url(ref.Qualifier)
		if err != nil {
			return err
		}
		if !ok {
			return resourceNotFound()
		}
		if in.AuthType != nil {
			u.AuthType = *in.AuthType
		}
		if in.Cors != nil {
			u.Cors = in.Cors
		}
		if in.InvokeMode != nil {
			u.InvokeMode = *in.InvokeMode
		}
		u.LastModifiedTime = s.now().UTC().Format(urlTimeLayout)
		if err := putJSON(f.b.Bucket(bucketURLs), urlKey(ref.Qualifier), u); err != nil {
			return err
		}
		out = s.urlView(ref.Name, u, false)
		out.LastModifiedTime = u.LastModifiedTime
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteFunctionURLConfig removes the URL of the function or alias; its
// url-id stops answering at once.
func (s *Store) DeleteFunctionURLConfig(ctx context.Context, functionName string, qualifier *string) error {
	ref, err := s.resolveName(functionName, qualifier, urlRules, nil)
	if err != nil {
		return err
	}
	return s.update(func(t *txn) error {
		f, err := s.resolveURLTarget(t.Tx, ref, func() error { return resourceNotFound() })
		if err != nil {
			return err
		}
		if _, ok, err := f.url(ref.Qualifier); err != nil {
			return err
		} else if !ok {
			return resourceNotFound()
		}
		return f.deleteURL(t, ref.Qualifier, false)
	})
}

// ListFunctionURLConfigsOutput is ListFunctionUrlConfigs' answer.
type ListFunctionURLConfigsOutput struct {
	FunctionUrlConfigs []*FunctionURLConfig `json:"FunctionUrlConfigs"`
	NextMarker         *string              `json:"NextMarker,omitempty"`
}

// ListFunctionURLConfigs lists a function's URL configs: $LATEST's first,
// then its aliases' by name. The marker is the qualifier that starts the
// next page.
func (s *Store) ListFunctionURLConfigs(ctx context.Context, functionName string, marker *string, maxItems *int) (*ListFunctionURLConfigsOutput, error) {
	ref, err := s.resolveName(functionName, nil, urlRules, func(v *violations) {
		v.intRange("maxItems", maxItems, 1, 50)
	})
	if err != nil {
		return nil, err
	}
	limit := pageSize(maxItems)
	out := &ListFunctionURLConfigsOutput{FunctionUrlConfigs: []*FunctionURLConfig{}}
	err = s.view(func(tx *bolt.Tx) error {
		f, err := s.openFunction(tx, ref.Name)
		if err != nil {
			return notFound("Function does not exist")
		}
		c := f.b.Bucket(bucketURLs).Cursor()
		k, raw := c.First()
		if marker != nil {
			k, raw = c.Seek([]byte(*marker))
		}
		for ; k != nil; k, raw = c.Next() {
			if len(out.FunctionUrlConfigs) == limit {
				out.NextMarker = ptr(string(k))
				break
			}
			var u storedURL
			if err := json.Unmarshal(raw, &u); err != nil {
				return err
			}
			out.FunctionUrlConfigs = append(out.FunctionUrlConfigs, s.urlView(ref.Name, &u, true))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// functionURL is the URL a url-id answers at.
func (s *Store) functionURL(id string) string {
	return s.urlFor(id)
}

func itoa(n int) string { return strconv.Itoa(n) }

// DefaultFunctionURL builds AWS's URL shape on furl's plain HTTP host:
// http://<url-id>.lambda-url.<region>.localhost:<port>/.
func DefaultFunctionURL(region string, port int) func(id string) string {
	return FunctionURLAt("http", region, port)
}

// FunctionURLAt builds AWS's URL shape with a scheme and port of furl's:
// <scheme>://<url-id>.lambda-url.<region>.localhost:<port>/.
func FunctionURLAt(scheme, region string, port int) func(id string) string {
	return func(id string) string {
		return scheme + "://" + id + ".lambda-url." + region + ".localhost:" + itoa(port) + "/"
	}
}
