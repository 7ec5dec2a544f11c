package urlconfig

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/furl-dev/furl/authz"
)

// Version is one version of a function resolved for running it: its
// configuration, where its code is, and how it was asked for.
type Version struct {
	// Config is the version's configuration as GetFunctionConfiguration
	// reports it.
	Config FunctionConfiguration
	// FunctionName is the function's name; Version is "$LATEST" or a
	// number: the version that runs (an alias' choice, when one was named).
	FunctionName string
	Version      string
	// InvokedARN is the ARN as the caller named it: unqualified, or with the
	// version or alias it gave.
	InvokedARN string
	// CodeHash is the hex SHA-256 of the code zip, and CodePath its file;
	// both are empty for an Image function.
	CodeHash string
	CodePath string
	// CodeDir is a hot-reload function's host folder (see
	// HotReloadBucket), which it runs its code from as it is at each
	// invocation; "" for a zip or an image.
	CodeDir string
	// Layers are the version's layers in the order they are merged into
	// /opt.
	Layers []VersionLayer
	// ImageURI is an Image function's image as its ImageUri names it, and
	// ResolvedImageURI the same pinned to the digest it had when it was
	// set (<repository>@sha256:<hex>); both are empty for a Zip function.
	ImageURI         string
	ResolvedImageURI string
	// Fingerprint changes whenever anything an execution environment
	// depends on changes: code (the zip, or the image and its digest),
	// runtime, handler, image config, memory, timeout, variables.
	// Environments of another fingerprint are stale.
	Fingerprint string
	// ReservedConcurrency is the function's reservation, nil for none.
	ReservedConcurrency *int
}

// ResolveVersion finds the version an invocation of functionName (with
// qualifier, if given) runs. An alias with a routing configuration picks
// one of its versions at random by weight, as Lambda does per invocation.
// The answer is shared: callers must not change it.
func (s *Store) ResolveVersion(ctx context.Context, functionName string, qualifier *string) (*Version, error) {
	key := functionName
	if qualifier != nil {
		key += "\x00" + *qualifier
	}
	gen := s.gen.Load()
	if v, ok := s.resolved.get(key, gen); ok {
		return v, nil
	}
	v, cacheable, err := s.resolveVersion(functionName, qualifier)
	if err == nil && cacheable {
		s.resolved.put(key, gen, v)
	}
	return v, err
}

// resolveCache keeps resolutions until the next write: invocations
// resolve the same few names again and again.
type resolveCache[V any] struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]V
}

func (c *resolveCache[V]) get(key string, gen uint64) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		var zero V
		return zero, false
	}
	v, ok := c.m[key]
	return v, ok
}

func (c *resolveCache[V]) put(key string, gen uint64, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen < c.gen {
		return // read before a newer write that the cache already follows
	}
	if c.gen != gen || c.m == nil {
		c.gen, c.m = gen, map[string]V{}
	}
	c.m[key] = v
}

// resolveVersion reads a resolution from the store; cacheable is false
// when it involved a random choice between an alias' versions.
func (s *Store) resolveVersion(functionName string, qualifier *string) (_ *Version, cacheable bool, _ error) {
	ref, err := s.lookupRef(functionName, qualifier)
	if err != nil {
		return nil, false, err
	}
	var out *Version
	cacheable = true
	err = s.view(func(tx *bolt.Tx) error {
		// An unqualified invocation runs $LATEST, and Lambda names it so
		// when the function is missing ("Function not found: <arn>:$LATEST"),
		// unlike the reads of the function's configuration.
		named := ref.Qualifier
		if named == "" {
			named = LatestVersion
		}
		f, err := s.openFunction(tx, ref.Name)
		if err != nil {
			return notFoundWithQualifier(err, s.account.QualifiedARN(ref.Name, named))
		}
		missing := func() error { return functionNotFound(s.account.QualifiedARN(ref.Name, named)) }
		cfg, routed, err := f.routed(ref.Qualifier, missing)
		if err != nil {
			return err
		}
		cacheable = !routed
		out = s.version(cfg, ref.Name, s.account.QualifiedARN(ref.Name, ref.Qualifier))
		if f.rec.ReservedConcurrency != nil {
			out.ReservedConcurrency = ptr(*f.rec.ReservedConcurrency)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, cacheable, nil
}

// version is a stored configuration resolved for running it, as the
// caller named it (invokedARN).
func (s *Store) version(cfg *storedConfig, name, invokedARN string) *Version {
	v := &Version{
		Config:           cfg.FunctionConfiguration,
		FunctionName:     name,
		Version:          cfg.Version,
		InvokedARN:       invokedARN,
		CodeHash:         cfg.CodeHash,
		ImageURI:         cfg.ImageUri,
		ResolvedImageURI: cfg.ResolvedImageUri,
		CodeDir:          cfg.HotReloadDir,
		Fingerprint:      fingerprint(cfg),
	}
	if cfg.CodeHash != "" {
		v.CodePath = s.code.path(cfg.CodeHash)
	}
	for i, l := range cfg.Layers {
		if i < len(cfg.LayerHashes) {
			v.Layers = append(v.Layers, VersionLayer{ARN: l.Arn, CodeHash: cfg.LayerHashes[i], CodePath: s.code.path(cfg.LayerHashes[i])})
		}
	}
	return v
}

// VersionLayer is one layer a version uses: its version ARN and its zip,
// named by its hex SHA-256.
type VersionLayer struct {
	ARN      string
	CodeHash string
	CodePath string
}

// pickWeighted returns one of the extra versions of a routing
// configuration with its weight's probability, or "" for the alias' own
// version.
func pickWeighted(weights map[string]float64) string {
	if len(weights) == 0 {
		return ""
	}
	keys := make([]string, 0, len(weights))
	for k := range weights {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	x := rand.Float64()
	for _, k := range keys {
		if x < weights[k] {
			return k
		}
		x -= weights[k]
	}
	return ""
}

// fingerprint digests what an execution environment is built from.
func fingerprint(c *storedConfig) string {
	key := struct {
		Code, Runtime, Handler string
		Memory, Timeout        int
		Env                    map[string]string
		Arch                   []string
		Storage                *EphemeralStorage
		Logging                *LoggingConfig
		Version                string
		// An Image function's code: the image, pinned to its digest,
		// and how it is started. Empty for Zip functions, which keeps
		// their fingerprints as they were.
		Image       string               `json:",omitempty"`
		ImageConfig *ImageConfigResponse `json:",omitempty"`
		// A hot-reload function's folder; what is in it is the
		// runtime's business (runtimeapi fingerprints it per call).
		CodeDir string `json:",omitempty"`
		// The layers' content, in merge order; empty for a function
		// without layers, which keeps its fingerprint as it was.
		Layers []string `json:",omitempty"`
	}{c.CodeHash, c.Runtime, c.Handler, c.MemorySize, c.Timeout, nil, c.Architectures, c.EphemeralStorage, c.LoggingConfig, c.Version, "", c.ImageConfigResponse, c.HotReloadDir, c.LayerHashes}
	if c.isImage() {
		key.Image = c.ImageUri + "\x00" + c.ResolvedImageUri
	}
	if c.Environment != nil {
		key.Env = c.Environment.Variables
	}
	raw, _ := json.Marshal(key) // plain values always encode; map keys are sorted
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16])
}

// URLTarget is a function URL resolved for a request: its configuration,
// the version it runs, and the resource policy that governs it.
type URLTarget struct {
	URLID        string
	FunctionName string
	// Qualifier is the alias the URL belongs to, or "" for $LATEST.
	Qualifier  string
	AuthType   string
	InvokeMode string // BUFFERED when never set
	Cors       *Cors
	// ARN is the URL's function ARN: unqualified, or the alias'.
	ARN string
	// Version is what an invocation through the URL runs.
	Version *Version
	// Policy is the resource policy of the URL's function or alias, nil
	// when there is none.
	Policy *authz.Policy
}

// ErrURLOfDeletedAlias is ResolveURL's answer for the URL of an alias
// that was deleted.
var ErrURLOfDeletedAlias = errors.New("urlconfig: the URL's alias was deleted")

// ResolveURL finds what a url-id answers with. A url-id that does not
// exist (or no longer does) is a ResourceNotFoundException.
func (s *Store) ResolveURL(ctx context.Context, urlID string) (*URLTarget, error) {
	gen := s.gen.Load()
	key := "url\x00" + urlID
	if v, ok := s.urlTargets.get(key, gen); ok {
		return v, nil
	}
	var out *URLTarget
	cacheable := true
	err := s.view(func(tx *bolt.Tx) error {
		var t urlTarget
		ok, err := getJSON(tx.Bucket(bucketURLIDs), []byte(urlID), &t)
		if err != nil {
			return err
		}
		if !ok {
			return resourceNotFound()
		}
		if t.Deleted {
			return ErrURLOfDeletedAlias
		}
		f, err := s.openFunction(tx, t.FunctionName)
		if err != nil {
			return err
		}
		u, ok, err := f.url(t.Qualifier)
		if err != nil {
			return err
		}
		if !ok {
			return resourceNotFound()
		}
		cfg, routed, err := f.routed(t.Qualifier, func() error { return resourceNotFound() })
		if err != nil {
			return err
		}
		cacheable = !routed
		out = &URLTarget{
			URLID: urlID, FunctionName: t.FunctionName, Qualifier: t.Qualifier,
			AuthType: u.AuthType, InvokeMode: u.InvokeMode, Cors: u.Cors,
			ARN:     s.account.QualifiedARN(t.FunctionName, t.Qualifier),
			Version: s.version(cfg, t.FunctionName, s.account.QualifiedARN(t.FunctionName, t.Qualifier)),
		}
		if out.InvokeMode == "" {
			out.InvokeMode = InvokeModeBuffered
		}
		if f.rec.ReservedConcurrency != nil {
			out.Version.ReservedConcurrency = ptr(*f.rec.ReservedConcurrency)
		}
		p, ok, err := f.policy(t.Qualifier)
		if err != nil {
			return err
		}
		if ok {
			if out.Policy, err = authz.ParsePolicy(p.document()); err != nil {
				return fmt.Errorf("urlconfig: stored policy of %s: %w", out.ARN, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if cacheable {
		s.urlTargets.put(key, gen, out)
	}
	return out, nil
}

// URLSummary is one function URL, for listing at start.
type URLSummary struct {
	FunctionName string
	Qualifier    string
	URL          string
	AuthType     string
	InvokeMode   string
}

// AllURLs lists every function URL of the account.
func (s *Store) AllURLs(ctx context.Context) ([]URLSummary, error) {
	var out []URLSummary
	err := s.view(func(tx *bolt.Tx) error {
		return s.eachFunction(tx, func(f *fnBucket) error {
			return f.b.Bucket(bucketURLs).ForEach(func(k, raw []byte) error {
				var u storedURL
				if err := json.Unmarshal(raw, &u); err != nil {
					return err
				}
				mode := u.InvokeMode
				if mode == "" {
					mode = InvokeModeBuffered
				}
				out = append(out, URLSummary{FunctionName: f.name, Qualifier: u.Qualifier, URL: s.functionURL(u.URLID), AuthType: u.AuthType, InvokeMode: mode})
				return nil
			})
		})
	})
	return out, err
}
