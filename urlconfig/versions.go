package urlconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// PublishVersionInput is PublishVersion's request; FunctionName comes from
// the path.
type PublishVersionInput struct {
	FunctionName string  `json:"-"`
	CodeSha256   *string `json:"CodeSha256"`
	Description  *string `json:"Description"`
	RevisionId   *string `json:"RevisionId"`
}

// PublishVersion snapshots $LATEST as a new numbered version, or answers
// the newest version when nothing changed since it was published.
func (s *Store) PublishVersion(ctx context.Context, in *PublishVersionInput) (*FunctionConfiguration, error) {
	ref, err := s.resolveName(in.FunctionName, nil, wholeFunction, func(v *violations) {
		v.optStr("description", in.Description, 0, 256, nil)
	})
	if err != nil {
		return nil, err
	}
	var out *storedConfig
	err = s.update(func(t *txn) error {
		f, latest, err := s.latestAt(t.Tx, ref.Name, nil)
		if err != nil {
			return err
		}
		if in.CodeSha256 != nil && *in.CodeSha256 != latest.CodeSha256 {
			return invalidParam("CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.", *in.CodeSha256, latest.CodeSha256)
		}
		if in.RevisionId != nil && *in.RevisionId != latest.RevisionId {
			return revisionMismatch()
		}
		if out, _, err = s.publish(t, f, latest, in.Description); err != nil {
			return err
		}
		return f.saveRecord()
	})
	if err != nil {
		return nil, err
	}
	resp := out.FunctionConfiguration
	return &resp, nil
}

// publish makes a numbered version of latest (which must be the stored
// $LATEST), unless the newest version already has the same code and
// configuration, in which case that version is the answer and created is
// false. The caller saves f's record.
func (s *Store) publish(t *txn, f *fnBucket, latest *storedConfig, description *string) (_ *storedConfig, created bool, _ error) {
	if f.rec.LastVersion > 0 {
		last, ok, err := f.version(f.rec.LastVersion)
		if err != nil {
			return nil, false, err
		}
		if ok && sameContent(last, latest) {
			return last, false, nil
		}
	}
	n := f.rec.LastVersion + 1
	ver := *latest
	ver.Version = strconv.FormatUint(n, 10)
	ver.FunctionArn = s.account.QualifiedARN(f.name, ver.Version)
	ver.RevisionId = newRevisionID()
	ver.LastModified = s.now().UTC().Format(lastModifiedLayout)
	ver.State, ver.LastUpdateStatus = "Active", "Successful"
	if description != nil {
		ver.Description = *description
	}
	if err := t.addCodeRef(ver.CodeHash); err != nil {
		return nil, false, err
	}
	if err := t.refLayers(&ver, 1); err != nil {
		return nil, false, err
	}
	if err := f.putVersion(n, &ver); err != nil {
		return nil, false, err
	}
	f.rec.LastVersion = n
	// Publishing changes $LATEST's revision, as it does on AWS.
	latest.RevisionId = newRevisionID()
	if err := f.putLatest(latest); err != nil {
		return nil, false, err
	}
	return &ver, true, nil
}

// sameContent reports whether two versions have the same code and the same
// configuration, ignoring what naturally differs between versions.
func sameContent(a, b *storedConfig) bool {
	return bytes.Equal(contentKey(a), contentKey(b))
}

func contentKey(c *storedConfig) []byte {
	k := *c
	k.FunctionArn, k.Version, k.RevisionId, k.LastModified, k.Description = "", "", "", "", ""
	k.State, k.StateReason, k.StateReasonCode = "", "", ""
	k.LastUpdateStatus, k.LastUpdateStatusReason, k.LastUpdateStatusReasonCode = "", "", ""
	// The stored fields count too: an image named by another tag is
	// other code, even with the same digest.
	raw, _ := json.Marshal(k) // a plain struct of strings, numbers and maps always encodes
	return raw
}

// ListVersionsByFunctionOutput is ListVersionsByFunction's answer.
type ListVersionsByFunctionOutput struct {
	NextMarker *string                  `json:"NextMarker,omitempty"`
	Versions   []*FunctionConfiguration `json:"Versions"`
}

// ListVersionsByFunction lists $LATEST and then the published versions in
// ascending order, a page at a time. The marker is the version that starts
// the next page.
func (s *Store) ListVersionsByFunction(ctx context.Context, functionName string, marker *string, maxItems *int) (*ListVersionsByFunctionOutput, error) {
	ref, err := s.resolveName(functionName, nil, nameRules{name: patNamespacedFunctionName, maxLen: 256, whole: true}, func(v *violations) {
		v.intRange("maxItems", maxItems, 1, 10000)
	})
	if err != nil {
		return nil, err
	}
	limit := pageSize(maxItems)
	out := &ListVersionsByFunctionOutput{Versions: []*FunctionConfiguration{}}
	err = s.view(func(tx *bolt.Tx) error {
		f, err := s.openFunction(tx, ref.Name)
		if err != nil {
			return err
		}
		start := uint64(0) // 0 stands for $LATEST, which comes first
		if marker != nil && *marker != LatestVersion {
			n, ok := parseVersion(*marker)
			if !ok {
				return invalidParam("Invalid marker: %s", *marker)
			}
			start = n
		}
		if start == 0 {
			latest, err := f.latest()
			if err != nil {
				return err
			}
			item := listed(latest.FunctionConfiguration)
			item.FunctionArn = s.account.QualifiedARN(f.name, LatestVersion)
			out.Versions = append(out.Versions, item)
		}
		c := f.b.Bucket(bucketVersions).Cursor()
		for k, raw := c.Seek(versionKey(max(start, 1))); k != nil; k, raw = c.Next() {
			var ver storedConfig
			if err := json.Unmarshal(raw, &ver); err != nil {
				return err
			}
			if len(out.Versions) == limit {
				out.NextMarker = ptr(ver.Version)
				break
			}
			out.Versions = append(out.Versions, listed(ver.FunctionConfiguration))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
