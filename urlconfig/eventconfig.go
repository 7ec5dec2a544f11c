package urlconfig

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AWS's handling of asynchronous invocations when a function, version or
// alias has no event invoke config: two retries after a function error, and
// events kept for up to six hours.
const (
	DefaultMaximumRetryAttempts     = 2
	DefaultMaximumEventAgeInSeconds = 21600
)

// bucketEventConfigs holds a function's event invoke configs, keyed like
// its URLs and policies ($LATEST, a version number or an alias). Functions
// created before it existed lack it until their first config.
var bucketEventConfigs = []byte("eventconfigs")

// EventInvokeConfigInput is the request of PutFunctionEventInvokeConfig
// and UpdateFunctionEventInvokeConfig; FunctionName and Qualifier come from
// the path and query.
type EventInvokeConfigInput struct {
	FunctionName             string             `json:"-"`
	Qualifier                *string            `json:"-"`
	MaximumRetryAttempts     *int               `json:"MaximumRetryAttempts"`
	MaximumEventAgeInSeconds *int               `json:"MaximumEventAgeInSeconds"`
	DestinationConfig        *DestinationConfig `json:"DestinationConfig"`
}

// DestinationConfig names where the records of asynchronous invocations
// go. AWS answers with both members, empty when unset.
type DestinationConfig struct {
	OnSuccess *Destination `json:"OnSuccess,omitempty"`
	OnFailure *Destination `json:"OnFailure,omitempty"`
}

// Destination is one destination's ARN.
type Destination struct {
	Destination *string `json:"Destination,omitempty"`
}

// FunctionEventInvokeConfig is an event invoke config as the API answers
// it. The two settings are absent when the config does not set them.
type FunctionEventInvokeConfig struct {
	LastModified             EpochTime          `json:"LastModified"`
	FunctionArn              string             `json:"FunctionArn"`
	MaximumRetryAttempts     *int               `json:"MaximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int               `json:"MaximumEventAgeInSeconds,omitempty"`
	DestinationConfig        *DestinationConfig `json:"DestinationConfig"`
}

// EpochTime is a timestamp as REST-JSON APIs write it: seconds since the
// epoch, with milliseconds.
type EpochTime time.Time

// MarshalJSON writes the time as a JSON number of seconds.
func (t EpochTime) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)), nil
}

// storedEventConfig is an event invoke config as kept in the store.
type storedEventConfig struct {
	MaximumRetryAttempts     *int      `json:"MaximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int      `json:"MaximumEventAgeInSeconds,omitempty"`
	OnSuccess                string    `json:"OnSuccess,omitempty"`
	OnFailure                string    `json:"OnFailure,omitempty"`
	LastModified             time.Time `json:"LastModified"`
}

// ListFunctionEventInvokeConfigsOutput is ListFunctionEventInvokeConfigs'
// answer.
type ListFunctionEventInvokeConfigsOutput struct {
	FunctionEventInvokeConfigs []*FunctionEventInvokeConfig `json:"FunctionEventInvokeConfigs"`
	NextMarker                 *string                      `json:"NextMarker,omitempty"`
}

// EventPolicy is how the asynchronous queue treats one function's, version's
// or alias' events: its event invoke config with AWS's defaults filled in.
type EventPolicy struct {
	MaximumRetryAttempts int
	MaximumEventAge      time.Duration
	// OnSuccess and OnFailure are destination ARNs, "" for none.
	OnSuccess, OnFailure string
}

// eventConfigRules are the event invoke config operations' name rules: a
// function, version or alias.
var eventConfigRules = anyVersion

// patDestinationArn is the model's pattern of a destination (botocore
// lambda/2015-03-31 DestinationArn).
var patDestinationArn = rePattern(`$|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)`)

// eventConfigChecks are the model rules of a Put or Update request.
func eventConfigChecks(in *EventInvokeConfigInput) func(*violations) {
	return func(v *violations) {
		v.intRange("maximumRetryAttempts", in.MaximumRetryAttempts, 0, 2)
		v.intRange("maximumEventAgeInSeconds", in.MaximumEventAgeInSeconds, 60, DefaultMaximumEventAgeInSeconds)
		if dc := in.DestinationConfig; dc != nil {
			if dc.OnSuccess != nil {
				v.optStr("destinationConfig.onSuccess.destination", dc.OnSuccess.Destination, 0, 350, &patDestinationArn)
			}
			if dc.OnFailure != nil {
				v.optStr("destinationConfig.onFailure.destination", dc.OnFailure.Destination, 0, 350, &patDestinationArn)
			}
		}
	}
}

// eventConfigKey is a config's key: the qualifier, $LATEST for none.
func eventConfigKey(qualifier string) string {
	if qualifier == "" {
		return LatestVersion
	}
	return qualifier
}

func (f *fnBucket) eventConfig(key string) (*storedEventConfig, bool, error) {
	b := f.b.Bucket(bucketEventConfigs)
	if b == nil {
		return nil, false, nil
	}
	var c storedEventConfig
	ok, err := getJSON(b, []byte(key), &c)
	if err != nil || !ok {
		return nil, false, err
	}
	return &c, true, nil
}

func (f *fnBucket) putEventConfig(key string, c *storedEventConfig) error {
	b, err := f.b.CreateBucketIfNotExists(bucketEventConfigs)
	if err != nil {
		return err
	}
	return putJSON(b, []byte(key), c)
}

// deleteEventConfig removes the config of a version or alias that is
// deleted; there may be none.
func (f *fnBucket) deleteEventConfig(key string) error {
	if b := f.b.Bucket(bucketEventConfigs); b != nil {
		return b.Delete([]byte(key))
	}
	return nil
}

// eventConfigView builds the answer for a stored config.
func (s *Store) eventConfigView(name, key string, c *storedEventConfig) *FunctionEventInvokeConfig {
	out := &FunctionEventInvokeConfig{
		LastModified:             EpochTime(c.LastModified),
		FunctionArn:              s.account.QualifiedARN(name, key),
		MaximumRetryAttempts:     c.MaximumRetryAttempts,
		MaximumEventAgeInSeconds: c.MaximumEventAgeInSeconds,
		DestinationConfig:        &DestinationConfig{OnSuccess: &Destination{}, OnFailure: &Destination{}},
	}
	if c.OnSuccess != "" {
		out.DestinationConfig.OnSuccess.Destination = ptr(c.OnSuccess)
	}
	if c.OnFailure != "" {
		out.DestinationConfig.OnFailure.Destination = ptr(c.OnFailure)
	}
	return out
}

// noSuchEventConfig is AWS's answer for a config that does not exist,
// whether or not its function does.
func (s *Store) noSuchEventConfig(name, key string) *Error {
	return notFound("The function %s doesn't have an EventInvokeConfig", s.account.QualifiedARN(name, key))
}

// noSuchFunction is AWS's answer when the function, version or alias a
// config is written for does not exist.
func noSuchFunction() *Error { return notFound("The function doesn't exist.") }

// nothingToConfigure is AWS's answer to a Put or Update that sets nothing.
func nothingToConfigure(in *EventInvokeConfigInput) error {
	if in.MaximumRetryAttempts == nil && in.MaximumEventAgeInSeconds == nil && in.DestinationConfig == nil {
		return invalidParam("You must specify at least one of error handling or destination setting.")
	}
	return nil
}

// PutFunctionEventInvokeConfig sets the asynchronous invocation options of
// a function, version or alias, replacing any it had: what the request
// leaves out is removed.
func (s *Store) PutFunctionEventInvokeConfig(ctx context.Context, in *EventInvokeConfigInput) (*FunctionEventInvokeConfig, error) {
	return s.writeEventConfig(in, true)
}

// UpdateFunctionEventInvokeConfig changes the options a request names and
// keeps the others. The config must exist.
func (s *Store) UpdateFunctionEventInvokeConfig(ctx context.Context, in *EventInvokeConfigInput) (*FunctionEventInvokeConfig, error) {
	return s.writeEventConfig(in, false)
}

// writeEventConfig is Put (replace) and Update (change an existing config).
func (s *Store) writeEventConfig(in *EventInvokeConfigInput, replace bool) (*FunctionEventInvokeConfig, error) {
	ref, err := s.resolveName(in.FunctionName, in.Qualifier, eventConfigRules, eventConfigChecks(in))
	if err != nil {
		return nil, err
	}
	if err := nothingToConfigure(in); err != nil {
		return nil, err
	}
	key := eventConfigKey(ref.Qualifier)
	var out *FunctionEventInvokeConfig
	err = s.update(func(t *txn) error {
		f, err := s.openFunction(t.Tx, ref.Name)
		if err != nil {
			return noSuchFunction()
		}
		if _, err := f.lookup(ref.Qualifier, func() error { return noSuchFunction() }); err != nil {
			return err
		}
		c, ok, err := f.eventConfig(key)
		switch {
		case err != nil:
			return err
		case replace:
			c = &storedEventConfig{}
		case !ok:
			return s.noSuchEventConfig(ref.Name, key)
		}
		if err := s.checkDestinations(t.Tx, ref.Name, in.DestinationConfig); err != nil {
			return err
		}
		applyEventConfig(c, in)
		c.LastModified = s.now().UTC()
		out = s.eventConfigView(ref.Name, key, c)
		return f.putEventConfig(key, c)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// applyEventConfig sets the members a request carries.
func applyEventConfig(c *storedEventConfig, in *EventInvokeConfigInput) {
	if in.MaximumRetryAttempts != nil {
		c.MaximumRetryAttempts = ptr(*in.MaximumRetryAttempts)
	}
	if in.MaximumEventAgeInSeconds != nil {
		c.MaximumEventAgeInSeconds = ptr(*in.MaximumEventAgeInSeconds)
	}
	if dc := in.DestinationConfig; dc != nil {
		c.OnSuccess, c.OnFailure = destinationOf(dc.OnSuccess), destinationOf(dc.OnFailure)
	}
}

func destinationOf(d *Destination) string {
	if d == nil || d.Destination == nil {
		return ""
	}
	return *d.Destination
}

// checkDestinations refuses destinations AWS refuses: a function that does
// not exist, the function itself, and services that take no invocation
// records (S3 takes only failures).
func (s *Store) checkDestinations(tx *bolt.Tx, name string, dc *DestinationConfig) error {
	if dc == nil {
		return nil
	}
	success, failure := destinationOf(dc.OnSuccess), destinationOf(dc.OnFailure)
	valid := true
	for _, d := range []struct {
		arn       string
		onFailure bool
	}{{success, false}, {failure, true}} {
		if d.arn == "" {
			continue
		}
		parts := strings.SplitN(d.arn, ":", 7)
		if len(parts) < 6 {
			valid = false
			continue
		}
		switch service := parts[2]; {
		case service == "lambda":
			if err := s.checkFunctionDestination(tx, name, d.arn, parts); err != nil {
				return err
			}
		case service == "sqs", service == "sns", service == "events", service == "s3" && d.onFailure:
		default:
			valid = false
		}
	}
	if valid {
		return nil
	}
	describe := func(kind, arn string) string {
		if arn == "" {
			return "null"
		}
		return kind + "(destination=" + arn + ")"
	}
	return invalidParam("The provided destination config DestinationConfig(onSuccess=%s, onFailure=%s) is invalid.",
		describe("OnSuccess", success), describe("OnFailure", failure))
}

// checkFunctionDestination accepts another existing function of the
// account as a destination.
func (s *Store) checkFunctionDestination(tx *bolt.Tx, name, arn string, parts []string) error {
	target := ""
	if len(parts) == 7 && parts[5] == "function" && parts[3] == s.account.Region && parts[4] == s.account.ID {
		target, _, _ = strings.Cut(parts[6], ":")
	}
	if target == name {
		return invalidParam("You can't specify the function as a destination for itself.")
	}
	if target == "" || tx.Bucket(bucketFunctions).Bucket([]byte(target)) == nil {
		return invalidParam("The destination ARN %s is invalid.", arn)
	}
	return nil
}

// GetFunctionEventInvokeConfig returns the asynchronous invocation options
// of a function, version or alias.
func (s *Store) GetFunctionEventInvokeConfig(ctx context.Context, functionName string, qualifier *string) (*FunctionEventInvokeConfig, error) {
	ref, err := s.resolveName(functionName, qualifier, eventConfigRules, nil)
	if err != nil {
		return nil, err
	}
	key := eventConfigKey(ref.Qualifier)
	var out *FunctionEventInvokeConfig
	err = s.view(func(tx *bolt.Tx) error {
		f, err := s.openFunction(tx, ref.Name)
		if err != nil {
			return s.noSuchEventConfig(ref.Name, key)
		}
		c, ok, err := f.eventConfig(key)
		if err != nil {
			return err
		}
		if !ok {
			return s.noSuchEventConfig(ref.Name, key)
		}
		out = s.eventConfigView(ref.Name, key, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteFunctionEventInvokeConfig removes the asynchronous invocation
// options of a function, version or alias: AWS's defaults apply again.
func (s *Store) DeleteFunctionEventInvokeConfig(ctx context.Context, functionName string, qualifier *string) error {
	ref, err := s.resolveName(functionName, qualifier, eventConfigRules, nil)
	if err != nil {
		return err
	}
	key := eventConfigKey(ref.Qualifier)
	return s.update(func(t *txn) error {
		f, err := s.openFunction(t.Tx, ref.Name)
		if err != nil {
			return s.noSuchEventConfig(ref.Name, key)
		}
		if _, ok, err := f.eventConfig(key); err != nil {
			return err
		} else if !ok {
			return s.noSuchEventConfig(ref.Name, key)
		}
		return f.deleteEventConfig(key)
	})
}

// ListFunctionEventInvokeConfigs lists a function's event invoke configs
// in key order ($LATEST, then versions and aliases by name). The marker is
// the key that starts the next page.
func (s *Store) ListFunctionEventInvokeConfigs(ctx context.Context, functionName string, marker *string, maxItems *int) (*ListFunctionEventInvokeConfigsOutput, error) {
	ref, err := s.resolveName(functionName, nil, nameRules{name: patNamespacedFunctionName, maxLen: 256, whole: true}, func(v *violations) {
		v.intRange("maxItems", maxItems, 1, 50)
	})
	if err != nil {
		return nil, err
	}
	limit := pageSize(maxItems)
	out := &ListFunctionEventInvokeConfigsOutput{FunctionEventInvokeConfigs: []*FunctionEventInvokeConfig{}}
	err = s.view(func(tx *bolt.Tx) error {
		f, err := s.openFunction(tx, ref.Name)
		if err != nil {
			return noSuchFunction()
		}
		b := f.b.Bucket(bucketEventConfigs)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, raw := c.First()
		if marker != nil {
			k, raw = c.Seek([]byte(*marker))
		}
		for ; k != nil; k, raw = c.Next() {
			if len(out.FunctionEventInvokeConfigs) == limit {
				out.NextMarker = ptr(string(k))
				break
			}
			var ec storedEventConfig
			if err := json.Unmarshal(raw, &ec); err != nil {
				return err
			}
			out.FunctionEventInvokeConfigs = append(out.FunctionEventInvokeConfigs, s.eventConfigView(ref.Name, string(k), &ec))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EventPolicy is what the asynchronous queue applies to an event of
// functionName invoked with qualifier ("" for none): the config of that
// qualifier, with AWS's defaults for what it leaves unset. A function that
// no longer exists is a ResourceNotFoundException.
func (s *Store) EventPolicy(ctx context.Context, functionName, qualifier string) (EventPolicy, error) {
	p := EventPolicy{MaximumRetryAttempts: DefaultMaximumRetryAttempts, MaximumEventAge: DefaultMaximumEventAgeInSeconds * time.Second}
	err := s.view(func(tx *bolt.Tx) error {
		f, err := s.openFunction(tx, functionName)
		if err != nil {
			return err
		}
		c, ok, err := f.eventConfig(eventConfigKey(qualifier))
		if err != nil || !ok {
			return err
		}
		if c.MaximumRetryAttempts != nil {
			p.MaximumRetryAttempts = *c.MaximumRetryAttempts
		}
		if c.MaximumEventAgeInSeconds != nil {
			p.MaximumEventAge = time.Duration(*c.MaximumEventAgeInSeconds) * time.Second
		}
		p.OnSuccess, p.OnFailure = c.OnSuccess, c.OnFailure
		return nil
	})
	return p, err
}
