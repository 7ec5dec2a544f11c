package urlconfig

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"sort"
	"sync"

	bolt "go.etcd.io/bbolt"
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
	// CodeHash is the hex SHA-256 of the code zip, and CodePath its file.
	CodeHash string
	CodePath string
	// Fingerprint changes whenever anything an execution environment
	// depends on changes: code, runtime, handler, memory, timeout,
	// variables. Environments of another fingerprint are stale.
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
type resolveCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]*Version
}

func (c *resolveCache) get(key string, gen uint64) (*Version, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return nil, false
	}
	v, ok := c.m[key]
	return v, ok
}

func (c *resolveCache) put(key string, gen uint64, v *Version) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.m == nil {
		c.gen, c.m = gen, map[string]*Version{}
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
		f, err := s.openFunction(tx, ref.Name)
		if err != nil {
			return notFoundWithQualifier(err, s.account.QualifiedARN(ref.Name, ref.Qualifier))
		}
		missing := func() error { return functionNotFound(s.account.QualifiedARN(ref.Name, ref.Qualifier)) }
		r, err := f.lookup(ref.Qualifier, missing)
		if err != nil {
			return err
		}
		cfg := r.config
		if r.alias != nil && len(r.alias.routing()) > 0 {
			cacheable = false
			if picked := pickWeighted(r.alias.routing()); picked != "" {
				r2, err := f.lookup(picked, missing)
				if err != nil {
					return err
				}
				cfg = r2.config
			}
		}
		out = &Version{
			Config:       cfg.FunctionConfiguration,
			FunctionName: ref.Name,
			Version:      cfg.Version,
			InvokedARN:   s.account.QualifiedARN(ref.Name, ref.Qualifier),
			CodeHash:     cfg.CodeHash,
			CodePath:     s.code.path(cfg.CodeHash),
			Fingerprint:  fingerprint(cfg),
		}
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
	}{c.CodeHash, c.Runtime, c.Handler, c.MemorySize, c.Timeout, nil, c.Architectures, c.EphemeralStorage, c.LoggingConfig, c.Version}
	if c.Environment != nil {
		key.Env = c.Environment.Variables
	}
	raw, _ := json.Marshal(key) // plain values always encode; map keys are sorted
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16])
}
