// Package urlconfig holds the emulated account's state: functions and their
// code, published versions, aliases, function URL configs, resource
// policies, reserved concurrency and tags. It validates every change the way
// the Lambda API does and keeps the result in an embedded transactional
// store, so a change is either durable or absent after a crash.
package urlconfig

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/furl-dev/furl/authz"
)

// Options configure a Store. The zero value of each field is documented.
type Options struct {
	// Dir is the data directory; it is created if missing. Required.
	Dir string
	// Account is the emulated account. Required.
	Account Account
	// AccountConcurrency is the account's concurrent-execution limit. Zero
	// means AWS's default of 1000.
	AccountConcurrency int
	// Logger receives the store's logs. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// FunctionURL builds the FunctionUrl a url-id answers at. Nil means
	// DefaultFunctionURL(Account.Region, 80).
	FunctionURL func(urlID string) string
	// EventQueueMaxBytes bounds the payload bytes the asynchronous queue
	// holds. Zero means DefaultEventQueueMaxBytes.
	EventQueueMaxBytes int64
	// EventQueueMaxEvents bounds the events the asynchronous queue holds.
	// Zero means DefaultEventQueueMaxEvents.
	EventQueueMaxEvents int
	// Images resolves the ImageUri of PackageType Image functions to a
	// digest when they are created or given new code. Nil means furl has
	// no Docker engine: such functions are refused with
	// InvalidParameterValueException.
	Images ImageResolver
}

// DefaultAccountConcurrency is AWS's default concurrent-execution limit.
const DefaultAccountConcurrency = 1000

// minUnreservedConcurrency is how much of the account limit AWS keeps
// unreserved.
const minUnreservedConcurrency = 100

// Store is the emulated account's durable state. It is safe for concurrent
// use.
type Store struct {
	// dir is the data directory, which no function's folder may be.
	dir     string
	db      *bolt.DB
	code    codeStore
	account Account
	limit   int
	log     *slog.Logger
	now     func() time.Time
	urlFor  func(urlID string) string
	events  *EventQueue
	images  ImageResolver

	// codeMu orders code-file renames and removals with the transactions
	// that add or drop references to them.
	codeMu sync.Mutex

	// gen counts committed writes; caches of reads check it.
	gen        atomic.Uint64
	resolved   resolveCache[*Version]
	urlTargets resolveCache[*URLTarget]
	policies   resolveCache[*authz.Policy]
	unreserved resolveCache[int]
}

var (
	bucketFunctions = []byte("functions")
	bucketURLIDs    = []byte("urlids")
	bucketCodeRefs  = []byte("coderefs")
	bucketMeta      = []byte("meta")

	keyFunction = []byte("function")
	keyLatest   = []byte("latest")
	keySchema   = []byte("schema")

	bucketVersions = []byte("versions")
	bucketAliases  = []byte("aliases")
	bucketURLs     = []byte("urls")
	bucketPolicies = []byte("policies")
)

const schemaVersion = "1"

// Open opens (creating if needed) the store under opts.Dir. It takes an
// exclusive lock on the database: a second furl on the same directory gets
// an error instead of waiting.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("urlconfig: no data directory")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FunctionURL == nil {
		opts.FunctionURL = DefaultFunctionURL(opts.Account.Region, 80)
	}
	if opts.AccountConcurrency == 0 {
		opts.AccountConcurrency = DefaultAccountConcurrency
	}
	if opts.EventQueueMaxBytes == 0 {
		opts.EventQueueMaxBytes = DefaultEventQueueMaxBytes
	}
	if opts.EventQueueMaxEvents == 0 {
		opts.EventQueueMaxEvents = DefaultEventQueueMaxEvents
	}
	if err := privateDir(opts.Dir, opts.Logger); err != nil {
		return nil, err
	}
	codeDir := filepath.Join(opts.Dir, "code")
	if err := os.MkdirAll(codeDir, 0o700); err != nil {
		return nil, fmt.Errorf("urlconfig: create data directory: %w", err)
	}
	dbPath := filepath.Join(opts.Dir, "state.db")
	db, err := bolt.Open(dbPath, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("urlconfig: %s is locked: is another furl using this data directory?", dbPath)
		}
		return nil, fmt.Errorf("urlconfig: open %s: %w", dbPath, err)
	}
	s := &Store{
		db:      db,
		dir:     realPath(opts.Dir),
		code:    codeStore{dir: codeDir},
		account: opts.Account,
		limit:   opts.AccountConcurrency,
		log:     opts.Logger,
		now:     opts.Now,
		urlFor:  opts.FunctionURL,
		images:  opts.Images,
	}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	// The queue's directory is opened under the database's lock, so that
	// no other furl reads it at the same time.
	if s.events, err = openEventQueue(filepath.Join(opts.Dir, "events"), opts.EventQueueMaxBytes, opts.EventQueueMaxEvents, opts.Logger); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// privateDir creates the data directory for its owner alone (0700): it
// holds every function's code and environment variables. An existing one
// that others may enter is made private when it is furl's own (owned by
// furl's user, not a shared, sticky directory such as /tmp); otherwise
// furl says so and leaves it.
func privateDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("urlconfig: create data directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("urlconfig: data directory: %w", err)
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if fi.Mode()&os.ModeSticky == 0 && ownedByMe(fi) {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("urlconfig: make the data directory private: %w", err)
		}
		log.Info("made the data directory private to its owner (0700)", "dir", dir, "was", fi.Mode().Perm())
		return nil
	}
	log.Warn("other users can enter the data directory; its code and environment variables are not private", "dir", dir, "mode", fi.Mode().Perm())
	return nil
}

// Events is the account's queue of asynchronous invocations.
func (s *Store) Events() *EventQueue { return s.events }

func (s *Store) init() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketFunctions, bucketURLIDs, bucketCodeRefs, bucketMeta, bucketLayers} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(keySchema); {
		case v == nil:
			return meta.Put(keySchema, []byte(schemaVersion))
		case string(v) != schemaVersion:
			return fmt.Errorf("data was written by a furl with schema %q; this furl reads schema %s", v, schemaVersion)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("urlconfig: initialise store: %w", err)
	}
	// Remove what a crash may have left between staging code and
	// committing, or between committing and removing unused code.
	s.codeMu.Lock()
	defer s.codeMu.Unlock()
	var refs map[string]bool
	if err := s.db.View(func(tx *bolt.Tx) error {
		refs = map[string]bool{}
		return tx.Bucket(bucketCodeRefs).ForEach(func(k, _ []byte) error {
			refs[string(k)] = true
			return nil
		})
	}); err != nil {
		return fmt.Errorf("urlconfig: read code references: %w", err)
	}
	removed, err := s.code.sweep(func(h string) bool { return refs[h] })
	if err != nil {
		return err
	}
	if removed > 0 {
		s.log.Info("removed unreferenced code files", "count", removed)
	}
	return nil
}

// Close closes the database. Pending transactions finish first.
func (s *Store) Close() error {
	return s.db.Close()
}

// Account is the account the store emulates.
func (s *Store) Account() Account { return s.account }

// CodePath is the file holding the deployment package whose SHA-256 is
// hexSum, and whether a function references it.
func (s *Store) CodePath(hexSum string) (string, bool) {
	var ok bool
	_ = s.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketCodeRefs).Get([]byte(hexSum)) != nil
		return nil
	})
	return s.code.path(hexSum), ok
}

// txn is one write transaction's view of the code references it changes.
type txn struct {
	*bolt.Tx
	s        *Store
	publish  []*codeArchive
	released []string
}

// update runs fn in a write transaction. Code archives fn references are
// published before the commit; archives whose last reference fn dropped are
// removed after it.
func (s *Store) update(fn func(t *txn) error) error {
	s.codeMu.Lock()
	defer s.codeMu.Unlock()
	var t *txn
	err := s.db.Update(func(tx *bolt.Tx) error {
		t = &txn{Tx: tx, s: s}
		if err := fn(t); err != nil {
			return err
		}
		for _, a := range t.publish {
			if err := s.code.publish(a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.unpublish(t)
		return err
	}
	s.gen.Add(1)
	for _, h := range t.released {
		if err := s.code.remove(h); err != nil {
			s.log.Warn("could not remove unused code; it will be removed at the next start", "err", err)
		}
	}
	return nil
}

// unpublish removes the archives a failed transaction published, unless
// another function already referenced the same content.
func (s *Store) unpublish(t *txn) {
	if t == nil {
		return
	}
	for _, a := range t.publish {
		if a.tmpPath != "" {
			continue // never published
		}
		var used bool
		_ = s.db.View(func(tx *bolt.Tx) error {
			used = tx.Bucket(bucketCodeRefs).Get([]byte(a.hexSum)) != nil
			return nil
		})
		if !used {
			if err := s.code.remove(a.hexSum); err != nil {
				s.log.Warn("could not remove code of a failed change; it will be removed at the next start", "err", err)
			}
		}
	}
}

func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	return s.db.View(fn)
}

// refCode records one more reference to a code archive, publishing it at
// commit when it is new.
func (t *txn) refCode(a *codeArchive) error {
	b := t.Bucket(bucketCodeRefs)
	n := decodeCount(b.Get([]byte(a.hexSum)))
	if err := b.Put([]byte(a.hexSum), encodeCount(n+1)); err != nil {
		return err
	}
	t.publish = append(t.publish, a)
	return nil
}

// addCodeRef records one more reference to code already in the store; an
// Image function's empty hash references nothing.
func (t *txn) addCodeRef(hexSum string) error {
	if hexSum == "" {
		return nil
	}
	b := t.Bucket(bucketCodeRefs)
	n := decodeCount(b.Get([]byte(hexSum)))
	return b.Put([]byte(hexSum), encodeCount(n+1))
}

// dropCodeRef records one reference fewer; the file goes after the commit
// when it was the last.
func (t *txn) dropCodeRef(hexSum string) error {
	if hexSum == "" {
		return nil
	}
	b := t.Bucket(bucketCodeRefs)
	n := decodeCount(b.Get([]byte(hexSum)))
	if n <= 1 {
		t.released = append(t.released, hexSum)
		return b.Delete([]byte(hexSum))
	}
	return b.Put([]byte(hexSum), encodeCount(n-1))
}

func encodeCount(n uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, n)
}

func decodeCount(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func versionKey(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("urlconfig: corrupt record %q: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("urlconfig: encode %q: %w", key, err)
	}
	return b.Put(key, raw)
}

func newRevisionID() string { return uuid.NewString() }

// randomBytes fills b from the system's secure source, which never fails
// on the platforms Go supports (crypto/rand.Read documents that).
func randomBytes(b []byte) {
	_, _ = rand.Read(b)
}

// realPath is path absolute with its links resolved, or as absolute as
// it can be made.
func realPath(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}
