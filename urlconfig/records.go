package urlconfig

import (
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// functionRecord is what a function keeps beside its versions.
type functionRecord struct {
	Name                string            `json:"Name"`
	Created             time.Time         `json:"Created"`
	LastVersion         uint64            `json:"LastVersion"`
	ReservedConcurrency *int              `json:"ReservedConcurrency,omitempty"`
	Tags                map[string]string `json:"Tags,omitempty"`
}

// fnBucket is one function's records inside a transaction.
type fnBucket struct {
	name string
	b    *bolt.Bucket
	rec  functionRecord
}

func (s *Store) openFunction(tx *bolt.Tx, name string) (*fnBucket, error) {
	b := tx.Bucket(bucketFunctions).Bucket([]byte(name))
	if b == nil {
		return nil, functionNotFound(s.account.FunctionARN(name))
	}
	f := &fnBucket{name: name, b: b}
	if _, err := getJSON(b, keyFunction, &f.rec); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *fnBucket) saveRecord() error { return putJSON(f.b, keyFunction, f.rec) }

func (f *fnBucket) latest() (*storedConfig, error) {
	var c storedConfig
	if _, err := getJSON(f.b, keyLatest, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

func (f *fnBucket) putLatest(c *storedConfig) error { return putJSON(f.b, keyLatest, c) }

// version reads a published version; ok is false when it does not exist.
func (f *fnBucket) version(n uint64) (*storedConfig, bool, error) {
	var c storedConfig
	ok, err := getJSON(f.b.Bucket(bucketVersions), versionKey(n), &c)
	if err != nil || !ok {
		return nil, false, err
	}
	return &c, true, nil
}

func (f *fnBucket) putVersion(n uint64, c *storedConfig) error {
	return putJSON(f.b.Bucket(bucketVersions), versionKey(n), c)
}

// versions lists the published versions in ascending order.
func (f *fnBucket) versions() ([]*storedConfig, error) {
	var out []*storedConfig
	err := f.b.Bucket(bucketVersions).ForEach(func(k, _ []byte) error {
		var c storedConfig
		if _, err := getJSON(f.b.Bucket(bucketVersions), k, &c); err != nil {
			return err
		}
		out = append(out, &c)
		return nil
	})
	return out, err
}

// resolved is what a qualifier names: a version's configuration and, when
// the qualifier was an alias, that alias.
type resolved struct {
	config *storedConfig
	alias  *storedAlias
}

// routed resolves a qualifier to the configuration an invocation runs:
// for an alias with weighted routing, the version picked this time, which
// routed reports so that it is not cached.
func (f *fnBucket) routed(qualifier string, missing func() error) (cfg *storedConfig, routed bool, err error) {
	r, err := f.lookup(qualifier, missing)
	if err != nil {
		return nil, false, err
	}
	if r.alias == nil || len(r.alias.routing()) == 0 {
		return r.config, false, nil
	}
	if picked := pickWeighted(r.alias.routing()); picked != "" {
		r2, err := f.lookup(picked, missing)
		if err != nil {
			return nil, true, err
		}
		return r2.config, true, nil
	}
	return r.config, true, nil
}

// lookup resolves a qualifier ("" or $LATEST, a version number, or an
// alias) to the version it names. missing builds the error for a qualifier
// that names nothing.
func (f *fnBucket) lookup(qualifier string, missing func() error) (resolved, error) {
	switch {
	case qualifier == "" || qualifier == LatestVersion:
		c, err := f.latest()
		return resolved{config: c}, err
	case allDigits.MatchString(qualifier):
		n, ok := parseVersion(qualifier)
		if !ok {
			return resolved{}, missing()
		}
		c, ok, err := f.version(n)
		if err != nil {
			return resolved{}, err
		}
		if !ok {
			return resolved{}, missing()
		}
		return resolved{config: c}, nil
	default:
		a, ok, err := f.alias(qualifier)
		if err != nil {
			return resolved{}, err
		}
		if !ok {
			return resolved{}, missing()
		}
		r, err := f.lookup(a.FunctionVersion, missing)
		r.alias = a
		return r, err
	}
}

// parseVersion reads a published version number. 0 is never one, and
// neither is a number written with leading zeros: "01" names no version,
// so that every comparison of version strings stays exact.
func parseVersion(s string) (uint64, bool) {
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil && n > 0 && strconv.FormatUint(n, 10) == s
}
